"""The SQLite registry on real files: what SQLite adds to the contract in test_contract.py
(triggers, a second connection as another process, the file's schema version)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from badge.errors import Unavailable, ValidationError
from badge.registry.sqlite import MIGRATIONS, SQLiteRegistry, _split_sql, open_registry
from tests.registry.shops import add


@pytest.fixture
def sqlite_registry(db_path: Path) -> Iterator[SQLiteRegistry]:
    reg = SQLiteRegistry(db_path)
    yield reg
    reg.close()


def raw(db_path: Path) -> sqlite3.Connection:
    """A second, independent connection, as another process would have."""
    return sqlite3.connect(db_path, isolation_level=None)


# The append-only history


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("UPDATE events SET reason = 'forged'", id="update"),
        pytest.param("UPDATE events SET to_state = 'certified' WHERE seq = 2", id="update-one"),
        pytest.param("DELETE FROM events", id="delete"),
        pytest.param("DELETE FROM events WHERE seq = 1", id="delete-one"),
    ],
)
def test_events_are_append_only(sqlite_registry: SQLiteRegistry, db_path: Path, sql: str) -> None:
    registry = sqlite_registry
    shop = add(registry)
    registry.set_state(shop.id, "suspended", reason="review", actor="test")
    history = registry.history(shop.id)
    conn = raw(db_path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute(sql)
    finally:
        conn.close()
    assert registry.history(shop.id) == history


def test_change_feed_sees_writes_from_another_connection(db_path: Path) -> None:
    reader = SQLiteRegistry(db_path)
    writer = SQLiteRegistry(db_path)
    try:
        cursor = reader.change_cursor()
        shop = add(writer)
        later, changed = reader.changes_since(cursor)
        assert changed == [shop.id]
        writer.set_state(shop.id, "revoked", reason="fraud", actor="t")
        _, changed = reader.changes_since(later)
        assert changed == [shop.id]
        assert reader.get_shop(shop.id).state == "revoked"  # type: ignore[union-attr]
    finally:
        reader.close()
        writer.close()


# Schema


def _schema_versions(db_path: Path) -> list[int]:
    conn = raw(db_path)
    try:
        return [r[0] for r in conn.execute("SELECT version FROM schema_version")]
    finally:
        conn.close()


def test_reopen_keeps_data_and_schema_version(db_path: Path) -> None:
    first = SQLiteRegistry(db_path)
    shop = add(first)
    first.set_state(shop.id, "suspended", reason="review", actor="t")
    first.add_token("crm", "digest")
    first.close()
    assert _schema_versions(db_path) == [len(MIGRATIONS)]

    again = SQLiteRegistry(db_path)
    try:
        reloaded = again.get_shop(shop.id)
        assert reloaded is not None
        assert reloaded.state == "suspended"
        assert reloaded.domains == shop.domains
        assert len(again.history(shop.id)) == 2
        assert again.token_digests() == [("crm", "digest")]
    finally:
        again.close()
    assert _schema_versions(db_path) == [len(MIGRATIONS)]


def test_newer_schema_refuses_to_open(db_path: Path) -> None:
    SQLiteRegistry(db_path).close()
    conn = raw(db_path)
    conn.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS) + 1,))
    conn.close()
    with pytest.raises(RuntimeError, match=r"schema version \d+ is newer than this code"):
        SQLiteRegistry(db_path)
    # Nothing was touched, and the file is still usable once the version is right.
    assert _schema_versions(db_path) == [len(MIGRATIONS) + 1]
    conn = raw(db_path)
    conn.execute("UPDATE schema_version SET version = ?", (len(MIGRATIONS),))
    conn.close()
    SQLiteRegistry(db_path).close()


def test_append_only_triggers_exist_after_migration(db_path: Path) -> None:
    SQLiteRegistry(db_path).close()
    conn = raw(db_path)
    try:
        triggers = {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        }
    finally:
        conn.close()
    assert {"events_append_only_update", "events_append_only_delete"} <= triggers


def test_memory_database_refused() -> None:
    with pytest.raises(ValidationError, match="file path"):
        open_registry(Path(":memory:"))


def test_open_registry_creates_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "badge.db"
    reg = open_registry(path)
    reg.ping()
    reg.close()
    assert path.exists()


def a_file_where_the_folder_goes(folder: Path) -> None:
    (folder / "file").write_text("x")


def a_file_that_is_no_database(folder: Path) -> None:
    (folder / "file").mkdir()
    (folder / "file" / "badge.db").write_bytes(b"not sqlite at all " * 64)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(a_file_where_the_folder_goes, "File exists", id="folder-is-a-file"),
        pytest.param(a_file_that_is_no_database, "file is not a database", id="not-a-database"),
    ],
)
def test_a_registry_that_cannot_open_says_which_file_and_setting(
    tmp_path: Path, make: Callable[[Path], object], reason: str
) -> None:
    make(tmp_path)
    path = tmp_path / "file" / "badge.db"
    with pytest.raises(Unavailable) as refused:
        open_registry(path)
    message = str(refused.value)
    assert str(path) in message and reason in message and "BADGE_DATABASE_URL" in message


def test_a_file_from_the_first_schema_migrates_and_reads(db_path: Path) -> None:
    """Rows as version 1 stored them (dates as ISO text, categories as JSON, sightings without
    a source) keep reading after the later migrations run."""
    db_path.parent.mkdir(parents=True)
    conn = raw(db_path)
    for statement in _split_sql(MIGRATIONS[0]):
        conn.execute(statement)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version VALUES (1)")
    at = "2025-03-01T10:00:00+00:00"
    conn.execute(
        "INSERT INTO shops VALUES ('abcdefghijkmnpqr', 'Oud', 'Oud BV', '0123.456.749', "
        "'[\"b2c_member\", \"sponsor\"]', 'certified', ?, '2024-01-01', '2027-01-01', NULL, ?, ?)",
        (at, at, at),
    )
    conn.execute("INSERT INTO shop_domains VALUES ('tweede.be', 'abcdefghijkmnpqr', 1)")
    conn.execute("INSERT INTO shop_domains VALUES ('oud.be', 'abcdefghijkmnpqr', 0)")
    conn.execute(
        "INSERT INTO events (shop_id, at, actor, from_state, to_state, reason) "
        "VALUES ('abcdefghijkmnpqr', ?, 'cli', NULL, 'certified', 'registered')",
        (at,),
    )
    conn.execute("INSERT INTO sightings VALUES ('abcdefghijkmnpqr', 'x.be', 0, ?, ?, 4)", (at, at))
    conn.close()

    registry = SQLiteRegistry(db_path)
    try:
        shop = registry.get_shop("abcdefghijkmnpqr")
        assert shop is not None
        assert shop.domains == ("oud.be", "tweede.be")
        # Migration 4: domains that were there before proofs are marked so, each with a
        # random challenge of its own, due for a check at once.
        assert [(p.domain, p.state, p.method) for p in shop.proofs] == [
            ("oud.be", "registered_before_proofs", None),
            ("tweede.be", "registered_before_proofs", None),
        ]
        tokens = {p.token for p in registry.domain_proofs(shop.id)}
        assert len(tokens) == 2 and all(len(t) >= 32 for t in tokens)
        assert registry.claim_due_checks() == [(shop.id, "oud.be"), (shop.id, "tweede.be")]
        assert shop.categories == ("b2c_member", "sponsor")
        assert (shop.certified_since, shop.valid_until) == (date(2024, 1, 1), date(2027, 1, 1))
        assert shop.created_at == datetime(2025, 3, 1, 10, tzinfo=UTC)
        assert registry.history(shop.id)[0].changes is None
        (sighting,) = registry.sightings(shop_id=shop.id)
        assert (sighting.source, sighting.host, sighting.count) == ("claim", "x.be", 4)
        registry.update_shop(shop.id, actor="t", reason="r", valid_until=date(2028, 1, 1))
        assert registry.history(shop.id)[-1].changes == {
            "valid_until": {"from": "2027-01-01", "to": "2028-01-01"}
        }
    finally:
        registry.close()
    assert _schema_versions(db_path) == [len(MIGRATIONS)]
