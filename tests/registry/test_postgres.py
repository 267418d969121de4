"""PostgresRegistry on a real PostgreSQL: what a shared database adds to the contract.

The backend-neutral contract runs against PostgreSQL too, in test_contract.py (id
`postgres`). Here: the schema, several writers and instances at once, failures, and a
served badge that follows a CLI change through the database.
"""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

from badge.errors import Conflict, Unavailable, ValidationError
from badge.registry import store
from badge.registry.model import Shop
from badge.registry.postgres import MIGRATIONS, PostgresRegistry
from badge.registry.rules import MAX_SIGHTINGS_PER_SHOP
from badge.registry.sqlite import SQLiteRegistry
from badge.serving.sightings import Seen
from tests.registry.shops import add, new_shop
from tests.servers import Service, cli, free_port, get, service_env, token_claims

pytestmark = pytest.mark.postgres


@pytest.fixture
def registry(pg_url: str) -> Iterator[PostgresRegistry]:
    reg = PostgresRegistry(pg_url)
    yield reg
    reg.close()


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    """Run SQL on a connection of its own, as another process would."""
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


# Schema


@pytest.mark.parametrize(
    "sql",
    [
        pytest.param("UPDATE events SET reason = 'forged'", id="update"),
        pytest.param("UPDATE events SET to_state = 'certified' WHERE seq = 2", id="update-one"),
        pytest.param("UPDATE events SET reason = 'x' WHERE false", id="update-no-row"),
        pytest.param("DELETE FROM events", id="delete"),
        pytest.param("DELETE FROM events WHERE seq = 1", id="delete-one"),
        pytest.param("TRUNCATE events CASCADE", id="truncate"),
    ],
)
def test_events_are_append_only(registry: PostgresRegistry, pg_url: str, sql: str) -> None:
    shop = add(registry)
    registry.set_state(shop.id, "suspended", reason="review", actor="test")
    history = registry.history(shop.id)
    with pytest.raises(psycopg.errors.RaiseException, match="events are append-only"):
        query(pg_url, sql)
    assert registry.history(shop.id) == history


def test_times_are_timestamptz_and_days_are_dates(registry: PostgresRegistry, pg_url: str) -> None:
    types = dict(
        query(
            pg_url,
            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public'",
        )
    )
    for column in (
        "shops.state_since",
        "shops.created_at",
        "shops.updated_at",
        "events.at",
        "sightings.first_seen",
        "sightings.last_seen",
        "api_tokens.created_at",
    ):
        assert types[column] == "timestamp with time zone", column
    for column in ("shops.certified_since", "shops.valid_until", "shops.last_audit"):
        assert types[column] == "date", column
    assert types["changes.seq"] == "bigint"


def test_same_answers_as_sqlite(
    registry: PostgresRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same calls at the same clock give the same shops and history, ids aside."""
    clock = datetime(2026, 3, 10, 9, 15, 30, tzinfo=UTC)
    monkeypatch.setattr(store, "_now", lambda: clock)
    reference = SQLiteRegistry(tmp_path / "badge.db")
    try:
        answers = []
        for reg in (reference, registry):
            shop = add(reg, domains=("bücher.be", "www.shop.be"), valid_until="2027-01-31")
            reg.set_state(shop.id, "suspended", reason="review", actor="alice")
            reg.update_shop(shop.id, actor="bob", reason="audit", valid_until=date(2027, 6, 30))
            stored = reg.get_shop(shop.id)
            assert stored is not None
            events = [dataclasses.replace(e, seq=0, shop_id="") for e in reg.history(shop.id)]
            answers.append((dataclasses.replace(stored, id=""), events, shop))
        (lite, lite_events, lite_new), (pg, pg_events, pg_new) = answers
        assert pg == lite
        assert pg_events == lite_events
        assert [e.at.isoformat() for e in pg_events] == [e.at.isoformat() for e in lite_events]
        # Registered as certified: certified since Brussels midnight of its certification day.
        assert pg_new.state_since == lite_new.state_since
        assert pg_new.state_since.isoformat() == "2023-12-31T23:00:00+00:00"
        assert pg.updated_at.tzinfo is UTC
    finally:
        reference.close()


def _schema_versions(url: str) -> list[object]:
    return [r[0] for r in query(url, "SELECT version FROM schema_version")]


def test_reopen_keeps_data_and_migrates_once(pg_url: str) -> None:
    first = PostgresRegistry(pg_url)
    shop = add(first)
    first.set_state(shop.id, "suspended", reason="review", actor="t")
    first.add_token("crm", "digest")
    first.close()
    assert _schema_versions(pg_url) == [len(MIGRATIONS)]

    again = PostgresRegistry(pg_url)
    try:
        reloaded = again.get_shop(shop.id)
        assert reloaded is not None
        assert reloaded.state == "suspended"
        assert len(again.history(shop.id)) == 2
        assert again.token_digests() == [("crm", "digest")]
    finally:
        again.close()
    assert _schema_versions(pg_url) == [len(MIGRATIONS)]


def test_instances_starting_together_on_an_empty_database(pg_url: str) -> None:
    starters = 4
    barrier = threading.Barrier(starters)

    def start() -> PostgresRegistry:
        barrier.wait()
        return PostgresRegistry(pg_url)

    with ThreadPoolExecutor(starters) as pool:
        registries = list(pool.map(lambda _: start(), range(starters)))
    try:
        assert _schema_versions(pg_url) == [len(MIGRATIONS)]
        shop = add(registries[0])
        assert all(r.get_shop(shop.id) == shop for r in registries)
    finally:
        for reg in registries:
            reg.close()


def test_newer_schema_refuses_to_open(pg_url: str) -> None:
    PostgresRegistry(pg_url).close()
    query(pg_url, f"UPDATE schema_version SET version = {len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match=r"schema version \d+ is newer than this code"):
        PostgresRegistry(pg_url)
    assert _schema_versions(pg_url) == [len(MIGRATIONS) + 1]


# Several writers and instances at once


def test_change_feed_sees_writes_from_another_instance(pg_url: str) -> None:
    reader, writer = PostgresRegistry(pg_url), PostgresRegistry(pg_url)
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


def test_change_feed_misses_nothing_under_concurrent_writers(pg_url: str) -> None:
    """Sequence values commit out of order unless the feed serialises them; a poller
    following the feed while writers race must still see every shop."""
    reader, writer = PostgresRegistry(pg_url), PostgresRegistry(pg_url)
    cursor = reader.change_cursor()
    seen: set[str] = set()
    done = threading.Event()

    def follow() -> None:
        nonlocal cursor
        while not done.is_set():
            cursor, changed = reader.changes_since(cursor)
            seen.update(changed)

    def write(worker: int) -> list[str]:
        return [add(writer, f"S{worker}-{i}", domains=(f"s{worker}-{i}.be",)).id for i in range(8)]

    follower = threading.Thread(target=follow)
    follower.start()
    try:
        with ThreadPoolExecutor(6) as pool:
            written = {shop_id for batch in pool.map(write, range(6)) for shop_id in batch}
    finally:
        done.set()
        follower.join()
    try:
        cursor, changed = reader.changes_since(cursor)
        seen.update(changed)
        assert seen == written
        assert len(written) == 48
    finally:
        reader.close()
        writer.close()


def test_one_domain_claimed_by_two_shops_at_once(pg_url: str) -> None:
    registries = [PostgresRegistry(pg_url), PostgresRegistry(pg_url)]
    barrier = threading.Barrier(2)

    def claim(i: int) -> Shop | Conflict:
        barrier.wait()
        try:
            return add(registries[i], f"Shop {i}", domains=(f"own{i}.be", "contested.be"))
        except Conflict as exc:
            return exc

    try:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(claim, range(2)))
        shops = [r for r in results if isinstance(r, Shop)]
        conflicts = [r for r in results if isinstance(r, Conflict)]
        assert len(shops) == len(conflicts) == 1
        assert f"contested.be is already registered to shop {shops[0].id}" in str(conflicts[0])
        assert registries[0].find_by_domain("contested.be") == shops[0]
        assert registries[0].count_shops() == 1
    finally:
        for reg in registries:
            reg.close()


def test_sightings_bound_holds_when_instances_flush_together(pg_url: str) -> None:
    registries = [PostgresRegistry(pg_url) for _ in range(3)]
    shop = add(registries[0])
    barrier = threading.Barrier(len(registries))

    def flush(i: int) -> None:
        flood = {f"h{i}-{n}.evil.be": Seen(1, False) for n in range(MAX_SIGHTINGS_PER_SHOP)}
        barrier.wait()
        registries[i].record_sightings({(shop.id, "claim"): flood})

    try:
        with ThreadPoolExecutor(len(registries)) as pool:
            list(pool.map(flush, range(len(registries))))
        assert len(registries[0].sightings(shop_id=shop.id)) == MAX_SIGHTINGS_PER_SHOP
    finally:
        for reg in registries:
            reg.close()


def test_import_of_many_shops_is_one_transaction(registry: PostgresRegistry) -> None:
    batch = [new_shop(f"Shop {i}", domains=(f"bulk{i}.be",)) for i in range(300)]
    cursor = registry.change_cursor()
    created = registry.import_shops(batch, actor="importer")
    assert registry.count_shops() == 300
    _, changed = registry.changes_since(cursor)
    assert changed == sorted(s.id for s in created)


# Failures


def test_a_stuck_query_fails_fast_instead_of_hanging(pg_url: str) -> None:
    registry = PostgresRegistry(pg_url, statement_timeout=0.3)
    shop = add(registry)
    try:
        with psycopg.connect(pg_url) as blocker:
            # Another session holds the shop's row, as a hung transaction would.
            blocker.execute("SELECT 1 FROM shops WHERE id = %s FOR UPDATE", (shop.id,))
            started = time.monotonic()
            with pytest.raises(Unavailable, match="registry is unavailable"):
                registry.set_state(shop.id, "suspended", reason="x", actor="t")
            assert time.monotonic() - started < 2
            # Readers never wait for writers.
            assert registry.get_shop(shop.id) == shop
            blocker.rollback()
        registry.set_state(shop.id, "suspended", reason="x", actor="t")
    finally:
        registry.close()


def test_recovers_when_the_server_drops_its_connections(
    registry: PostgresRegistry, pg_url: str
) -> None:
    shop = add(registry)
    killed = query(
        pg_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    assert killed
    assert registry.get_shop(shop.id) == shop
    registry.set_state(shop.id, "revoked", reason="fraud", actor="t")


def test_unreachable_database_fails_fast_without_the_password() -> None:
    url = f"postgresql://badge:hunter2@127.0.0.1:{free_port()}/badge"
    started = time.monotonic()
    with pytest.raises(Unavailable, match="cannot reach the PostgreSQL registry") as info:
        PostgresRegistry(url)
    assert time.monotonic() - started < 5
    assert "hunter2" not in str(info.value)


def test_a_user_that_may_not_create_tables_gets_one_clear_line(pg_url: str) -> None:
    role = f"reader_{secrets.token_hex(4)}"  # roles outlive the test's database
    query(pg_url, f"CREATE ROLE {role} LOGIN PASSWORD 'hunter2'")
    query(pg_url, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    url = pg_url.replace("postgres@", f"{role}:hunter2@", 1)
    with pytest.raises(Unavailable, match="cannot migrate the PostgreSQL registry") as info:
        PostgresRegistry(url)
    assert "permission denied" in str(info.value)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgresql://badge:hunter2@127.0.0.1/badge?nonsense=1", id="query"),
        pytest.param("postgresql://badge:hunter%zz2@127.0.0.1/badge", id="bad-escape"),
    ],
)
def test_malformed_url_is_refused_without_the_password(url: str) -> None:
    with pytest.raises(ValidationError, match="not a usable PostgreSQL URL") as info:
        PostgresRegistry(url)
    assert "hunter" not in str(info.value)


# A real server


@pytest.mark.server
def test_served_badge_follows_a_cli_revocation(pg_url: str, tmp_path: Path) -> None:
    """`badge shops add` and `set-state` in their own processes, a uvicorn server polling
    the same PostgreSQL: the revoked badge is served within a second of the CLI exiting."""
    env = service_env(tmp_path, BADGE_DATABASE_URL=pg_url)
    added = cli(
        env,
        "shops",
        "add",
        "--name",
        "Postgres Webshop",
        "--legal-name",
        "Postgres Webshop BV",
        "--enterprise-number",
        "0123.456.749",
        "--domain",
        "postgres-test.be",
    )
    assert added.returncode == 0, added.stderr
    shop_id = added.stdout.strip().splitlines()[-1]
    service = Service(env)
    service.start()
    try:
        status, body, _ = get(f"{service.base}/b/{shop_id}.svg")
        assert status == 200
        assert (token_claims(body) or {}).get("state") == "certified"
        status, ready, _ = get(f"{service.base}/readyz")
        assert status == 200, ready

        revoked = cli(env, "shops", "set-state", shop_id, "revoked", "--reason", "fraud")
        exited = time.monotonic()
        assert revoked.returncode == 0, revoked.stderr
        while True:
            _, body, _ = get(f"{service.base}/b/{shop_id}.svg")
            state = (token_claims(body) or {}).get("state")
            if state == "revoked":
                break
            assert time.monotonic() - exited < 5, f"still {state} after 5 s"
            time.sleep(0.02)
        delay = time.monotonic() - exited
        print(f"\nrevocation through PostgreSQL served {delay * 1000:.0f} ms after the CLI exited")
        assert delay < 1.0
    finally:
        service.stop()


def test_a_database_from_the_first_schema_migrates_and_reads(pg_url: str) -> None:
    """Rows as version 1 stored them (sightings without a source) keep reading after the
    later migrations run."""
    query(pg_url, MIGRATIONS[0])
    query(pg_url, "CREATE TABLE schema_version (version INTEGER NOT NULL)")
    query(pg_url, "INSERT INTO schema_version VALUES (1)")
    at = "2025-03-01T10:00:00+00:00"
    query(
        pg_url,
        "INSERT INTO shops VALUES ('abcdefghijkmnpqr', 'Oud', 'Oud BV', '0123.456.749', "
        f"'{{b2c_member,sponsor}}', 'certified', '{at}', '2024-01-01', '2027-01-01', NULL, "
        f"'{at}', '{at}')",
    )
    query(
        pg_url,
        "INSERT INTO shop_domains VALUES ('tweede.be', 'abcdefghijkmnpqr', 1), "
        "('oud.be', 'abcdefghijkmnpqr', 0)",
    )
    query(
        pg_url,
        f"INSERT INTO sightings VALUES ('abcdefghijkmnpqr', 'x.be', false, '{at}', '{at}', 4)",
    )

    registry = PostgresRegistry(pg_url)
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
        (sighting,) = registry.sightings(shop_id=shop.id)
        assert (sighting.source, sighting.host, sighting.count) == ("claim", "x.be", 4)
        registry.update_shop(shop.id, actor="t", reason="r", valid_until=date(2028, 1, 1))
        assert registry.history(shop.id)[-1].changes == {
            "valid_until": {"from": "2027-01-01", "to": "2028-01-01"}
        }
    finally:
        registry.close()
    assert _schema_versions(pg_url) == [len(MIGRATIONS)]
