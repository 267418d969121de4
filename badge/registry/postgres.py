"""PostgreSQL registry: the shared source of truth when several instances run.

The registry's logic is in store.py, shared with SQLite; here is what PostgreSQL does
differently: a small connection pool, row locks and advisory locks for concurrent writers
in several instances, and native dates, times, arrays and JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from badge.errors import Unavailable, ValidationError
from badge.registry import schema
from badge.registry.calls import CallStats
from badge.registry.records import RecordStore
from badge.registry.store import LockName, Row, SQLRegistry, Tx, migrate

_APPEND_ONLY: Final = """\
    CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'events are append-only';
    END
    $$;
    -- Per statement, so it also fires for TRUNCATE and for statements that match no row.
    CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON events
        FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();
"""

MIGRATIONS: Final[tuple[str, ...]] = (
    schema.version_1("postgres", _APPEND_ONLY),
    # 2: sightings by source (Referer or `d=` claim), each with its own bound; reports.
    schema.version_2(
        "postgres",
        """
    ALTER TABLE sightings ADD COLUMN source TEXT NOT NULL DEFAULT 'claim'
        CHECK (source IN ('referer', 'claim'));
    ALTER TABLE sightings ALTER COLUMN source DROP DEFAULT;
    ALTER TABLE sightings DROP CONSTRAINT sightings_pkey;
    ALTER TABLE sightings ADD PRIMARY KEY (shop_id, source, host);
""",
    ),
    # 3: what an edit of a shop's record changed; NULL for state changes.
    """
    ALTER TABLE events ADD COLUMN changes JSONB;
    """,
    # 4: domain ownership proofs; existing domains are registered before proofs.
    schema.version_4("postgres"),
)

# Advisory lock keys (per database), arbitrary but fixed: every instance must use the same.
_LOCKS: Final[dict[LockName, int]] = {
    "migration": 0x6B65_7572_6D00_0001,
    "changes": 0x6B65_7572_6D00_0002,
    "sightings": 0x6B65_7572_6D00_0003,
    "domains": 0x6B65_7572_6D00_0004,
    "proofs": 0x6B65_7572_6D00_0005,
}

POOL_MIN: Final = 1
POOL_MAX: Final = 8
# psycopg_pool retries a lost connection with a delay doubling from 1 s: after a 30 s outage
# its next attempt may be 30 s away, and instances stay unready that long after the database
# is back. Giving up after a few seconds lets the next request start a fresh attempt at once.
RECONNECT_WINDOW: Final = 4.0


class _Cursor(Tx):
    def __init__(self, cur: psycopg.Cursor[DictRow]) -> None:
        self._cur = cur

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        self._cur.execute(_query(sql), _adapt(params))
        return self._cur.fetchall() if self._cur.description else []

    def run_many(self, sql: str, params: Iterable[Sequence[object]]) -> None:
        self._cur.executemany(_query(sql), [_adapt(p) for p in params])

    def script(self, script: str) -> None:
        self._cur.execute(script)

    def lock(self, name: LockName) -> None:
        self._cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCKS[name],))


class PostgresRegistry(SQLRegistry, RecordStore):
    """A small connection pool; every method checks out one connection for its work."""

    DOMAINS = (
        "coalesce((SELECT array_agg(d.domain ORDER BY d.position) "
        "FROM shop_domains d WHERE d.shop_id = s.id), '{}')"
    )
    PROOFS = (
        "coalesce((SELECT json_agg(json_build_object('domain', p.domain, 'state', p.state, "
        "'method', p.method, 'since', p.since, 'note', p.attestation) ORDER BY d.position) "
        "FROM shop_domains d "
        "JOIN domain_proofs p ON p.shop_id = d.shop_id AND p.domain = d.domain "
        "WHERE d.shop_id = s.id), '[]')"
    )
    # Like SQLite's `COLLATE NOCASE`: case-insensitive, then byte order, whatever the locale.
    BY_NAME = ' ORDER BY lower(s.display_name) COLLATE "C", s.id'
    LIKE = "ILIKE"
    BINARY = ' COLLATE "C"'
    FOR_UPDATE = " FOR UPDATE"
    DUPLICATE = (psycopg.errors.UniqueViolation,)

    def __init__(
        self, url: str, *, connect_timeout: float = 3.0, statement_timeout: float = 2.0
    ) -> None:
        self._statement_timeout_ms = max(1, round(statement_timeout * 1000))
        self.call_stats = CallStats()
        password = urlsplit(url).password
        self._secrets = {password, unquote(password)} - {""} if password else set()
        # libpq counts whole seconds and treats 1 as 2.
        kwargs: dict[str, Any] = {"connect_timeout": max(2, round(connect_timeout))}
        self._connect(url, kwargs)
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            kwargs={**kwargs, "autocommit": True},
            min_size=POOL_MIN,
            max_size=POOL_MAX,
            open=False,
            configure=self._configure,
            # One round trip per checkout, so a connection broken by a database restart is
            # replaced instead of failing the request that drew it.
            check=ConnectionPool.check_connection,
            # How long a request waits for a free connection before it gets a 503.
            timeout=connect_timeout,
            reconnect_timeout=RECONNECT_WINDOW,
            name="badge-registry",
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout + 1)
        except psycopg.OperationalError as exc:
            self._pool.close()
            raise Unavailable(self._scrub(f"cannot open the PostgreSQL registry: {exc}")) from None

    def _connect(self, url: str, kwargs: dict[str, Any]) -> None:
        """Migrate on a connection of its own, which also gives a clear error when it fails."""
        try:
            conn = psycopg.connect(url, autocommit=True, **kwargs)
        except psycopg.OperationalError as exc:
            raise Unavailable(self._scrub(f"cannot reach the PostgreSQL registry: {exc}")) from None
        except psycopg.Error as exc:
            raise ValidationError(
                self._scrub(f"BADGE_DATABASE_URL is not a usable PostgreSQL URL: {exc}")
            ) from None
        try:
            with conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
                # Longer than the request limit: a real migration (or the wait for another
                # instance's) may take time.
                cur.execute("SET LOCAL statement_timeout = '60s'")
                migrate(_Cursor(cur), MIGRATIONS)
        except psycopg.Error as exc:
            # Typically a user that may not create tables: one clear line, not a traceback.
            raise Unavailable(
                self._scrub(f"cannot migrate the PostgreSQL registry: {exc}")
            ) from None

    def _scrub(self, message: str) -> str:
        """libpq echoes parts of a bad URL in its messages; never let that include the password."""
        message = " ".join(message.split())
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return message

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        # A stuck query or a lock wait fails after this, so no request hangs on the database.
        # UTC makes timestamps come back as SQLite's do.
        conn.execute(
            "SELECT set_config('statement_timeout', %s, false), "
            "set_config('TimeZone', 'UTC', false)",
            (f"{self._statement_timeout_ms}ms",),
        )

    @contextmanager
    def _connection(self, *, write: bool) -> Iterator[Tx]:
        """A cursor on a pooled connection; `write` wraps the block in one transaction."""
        with self.call_stats.measure("write" if write else "read", (Unavailable,)):
            yield from self._checked_out(write=write)

    def _checked_out(self, *, write: bool) -> Iterator[Tx]:
        try:
            with self._pool.connection() as conn:
                if write:
                    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
                        yield _Cursor(cur)
                else:
                    with conn.cursor(row_factory=dict_row) as cur:
                        yield _Cursor(cur)
        except psycopg.OperationalError as exc:
            # Timeouts, a dead server, an exhausted pool: a 503 with no internals in the text.
            raise Unavailable(f"the registry is unavailable ({type(exc).__name__})") from exc

    def _write(self) -> AbstractContextManager[Tx]:
        return self._connection(write=True)

    def _reading(self) -> AbstractContextManager[Tx]:
        return self._connection(write=False)

    def close(self) -> None:
        self._pool.close()


def has_schema(url: str, *, connect_timeout: float = 3.0) -> bool:
    """Whether this database holds a registry already (`badge` made its tables), for the
    CLI's read commands, which must not make an empty one. Connection errors propagate."""
    with psycopg.connect(url, connect_timeout=max(2, round(connect_timeout))) as conn:
        row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    return bool(row and row[0])


def _query(sql: str) -> str:
    """store.py's SQL, with psycopg's placeholders. Our own text: every value is a parameter."""
    return sql.replace("?", "%s")


def _adapt(params: Sequence[object]) -> list[object]:
    """Category tuples go in as text[] lists, history changes as JSONB."""
    return [
        list(v) if isinstance(v, tuple) else Jsonb(v) if isinstance(v, dict) else v for v in params
    ]
