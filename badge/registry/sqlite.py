"""SQLite registry: the single-machine default. The schema is versioned and migrates forward.

The registry's logic is in store.py; here is what SQLite does differently: one connection
behind a lock, one writer at a time (BEGIN IMMEDIATE), dates and times kept as ISO text and
lists as JSON text.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, Final

from badge.errors import Unavailable, ValidationError
from badge.registry import schema
from badge.registry.calls import CallStats
from badge.registry.records import RecordStore
from badge.registry.store import LockName, Row, SQLRegistry, Tx, migrate

_APPEND_ONLY: Final = """\
    CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
"""

MIGRATIONS: Final[tuple[str, ...]] = (
    schema.version_1("sqlite", _APPEND_ONLY),
    # 2: sightings by source (Referer or `d=` claim), each with its own bound; reports.
    schema.version_2(
        "sqlite",
        """
    CREATE TABLE sightings_by_source (
        shop_id TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('referer', 'claim')),
        host TEXT NOT NULL,
        registered INTEGER NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (shop_id, source, host)
    );
    INSERT INTO sightings_by_source
        SELECT shop_id, 'claim', host, registered, first_seen, last_seen, count FROM sightings;
    DROP TABLE sightings;
    ALTER TABLE sightings_by_source RENAME TO sightings;
""",
    ),
    # 3: what an edit of a shop's record changed, as JSON; NULL for state changes.
    """
    ALTER TABLE events ADD COLUMN changes TEXT;
    """,
    # 4: domain ownership proofs; existing domains are registered before proofs.
    schema.version_4("sqlite"),
)

# What counts as the database failing (a lock wait that timed out, a full disk), not as an
# answer such as a refused duplicate.
_FAILURES: Final = (sqlite3.OperationalError,)

# Columns SQLite keeps as JSON text.
_JSON: Final = frozenset({"categories", "changes"})


class _Connection(Tx):
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return [_decode(r) for r in self._db.execute(sql, _adapt(params)).fetchall()]

    def run_many(self, sql: str, params: Iterable[Sequence[object]]) -> None:
        self._db.executemany(sql, (_adapt(p) for p in params))

    def script(self, script: str) -> None:
        for statement in _split_sql(script):
            self._db.execute(statement)

    def lock(self, name: LockName) -> None:
        """Nothing to take: BEGIN IMMEDIATE lets one writer at a time in already."""


class SQLiteRegistry(SQLRegistry, RecordStore):
    # json_group_array has no ORDER BY before SQLite 3.44: pairs, put in order by _decode.
    DOMAINS = (
        "(SELECT json_group_array(json_array(d.position, d.domain)) "
        "FROM shop_domains d WHERE d.shop_id = s.id)"
    )
    PROOFS = (
        "(SELECT json_group_array(json_object('position', d.position, 'domain', p.domain, "
        "'state', p.state, 'method', p.method, 'since', p.since, 'note', p.attestation)) "
        "FROM shop_domains d "
        "JOIN domain_proofs p ON p.shop_id = d.shop_id AND p.domain = d.domain "
        "WHERE d.shop_id = s.id)"
    )
    BY_NAME = " ORDER BY s.display_name COLLATE NOCASE, s.id"
    LIKE = "LIKE"
    BINARY = ""
    FOR_UPDATE = ""
    DUPLICATE = (sqlite3.IntegrityError,)

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.call_stats = CallStats()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=5)
        try:
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=5000")
            with self._write() as tx:
                migrate(tx, MIGRATIONS)
        except BaseException:
            self._db.close()
            raise

    @contextmanager
    def _write(self) -> Iterator[Tx]:
        with self.call_stats.measure("write", _FAILURES), self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield _Connection(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    @contextmanager
    def _reading(self) -> Iterator[Tx]:
        with self.call_stats.measure("read", _FAILURES), self._lock:
            yield _Connection(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _adapt(params: Sequence[object]) -> list[Any]:
    return [_column(value) for value in params]


def _column(value: object) -> object:
    """Dates and times as ISO text, category lists and history changes as JSON text."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return json.dumps(list(value))
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return value


def _decode(row: sqlite3.Row) -> Row:
    data = dict(zip(row.keys(), row, strict=True))
    for name in _JSON.intersection(data):
        if data[name] is not None:
            data[name] = json.loads(data[name])
    if "domains" in data:
        data["domains"] = [domain for _, domain in sorted(json.loads(data["domains"]))]
    if data.get("proofs") is not None:
        data["proofs"] = sorted(json.loads(data["proofs"]), key=lambda p: int(p["position"]))
    return data


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements; triggers keep their inner `;`."""
    statements: list[str] = []
    buffer: list[str] = []
    depth = 0
    for line in script.strip().splitlines():
        buffer.append(line)
        upper = line.strip().upper()
        if upper.startswith("CREATE TRIGGER"):
            depth += 1
        if depth and upper.endswith("END;"):
            depth -= 1
        if not depth and line.rstrip().endswith(";"):
            statements.append("\n".join(buffer))
            buffer = []
    if any(part.strip() for part in buffer):
        statements.append("\n".join(buffer))
    return statements


def open_registry(path: Path) -> SQLiteRegistry:
    if str(path) == ":memory:":
        raise ValidationError("use a file path for the SQLite registry")
    try:
        return SQLiteRegistry(path)
    except (OSError, sqlite3.DatabaseError) as exc:
        # A folder that cannot be made, a file that is not a database, a locked one: one
        # line that names the file and the setting, not a traceback.
        raise Unavailable(
            f"cannot open the SQLite registry {path}: {exc} (BADGE_DATABASE_URL)"
        ) from None
