"""PostgreSQL registry: the shared source of truth when several instances run.

Same contract as the SQLite registry (see base.py): versioned forward migrations, an
append-only history enforced by the database, a `changes` feed every instance polls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any, Final, LiteralString, cast
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import sql
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from badge import sightings
from badge.errors import Conflict, NotFound, Unavailable, ValidationError
from badge.registry import rules
from badge.registry.model import (
    Event,
    NewReport,
    NewShop,
    Report,
    ReportStatus,
    Shop,
    Sighting,
    report_from_row,
)
from badge.sightings import Batch
from badge.vocabulary import Category, State

MIGRATIONS: Final[tuple[LiteralString, ...]] = (
    """
    CREATE TABLE shops (
        id TEXT PRIMARY KEY,
        display_name TEXT NOT NULL,
        legal_name TEXT NOT NULL,
        enterprise_number TEXT NOT NULL,
        categories TEXT[] NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('certified', 'suspended', 'revoked')),
        state_since TIMESTAMPTZ NOT NULL,
        certified_since DATE,
        valid_until DATE,
        last_audit DATE,
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE shop_domains (
        domain TEXT PRIMARY KEY,
        shop_id TEXT NOT NULL REFERENCES shops(id),
        position INTEGER NOT NULL
    );
    CREATE INDEX shop_domains_shop ON shop_domains(shop_id);
    CREATE TABLE events (
        seq BIGSERIAL PRIMARY KEY,
        shop_id TEXT NOT NULL REFERENCES shops(id),
        at TIMESTAMPTZ NOT NULL,
        actor TEXT NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX events_shop ON events(shop_id, seq);
    CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'events are append-only';
    END
    $$;
    -- Per statement, so it also fires for TRUNCATE and for statements that match no row.
    CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON events
        FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();
    CREATE TABLE changes (
        seq BIGSERIAL PRIMARY KEY,
        shop_id TEXT NOT NULL
    );
    CREATE TABLE sightings (
        shop_id TEXT NOT NULL,
        host TEXT NOT NULL,
        registered BOOLEAN NOT NULL,
        first_seen TIMESTAMPTZ NOT NULL,
        last_seen TIMESTAMPTZ NOT NULL,
        count BIGINT NOT NULL,
        PRIMARY KEY (shop_id, host)
    );
    CREATE TABLE api_tokens (
        name TEXT PRIMARY KEY,
        digest TEXT NOT NULL UNIQUE,
        created_at TIMESTAMPTZ NOT NULL
    );
    """,
    # 2: sightings by source (Referer or `d=` claim), each with its own bound; reports.
    """
    ALTER TABLE sightings ADD COLUMN source TEXT NOT NULL DEFAULT 'claim'
        CHECK (source IN ('referer', 'claim'));
    ALTER TABLE sightings ALTER COLUMN source DROP DEFAULT;
    ALTER TABLE sightings DROP CONSTRAINT sightings_pkey;
    ALTER TABLE sightings ADD PRIMARY KEY (shop_id, source, host);
    CREATE TABLE reports (
        id TEXT PRIMARY KEY,
        shop_id TEXT NOT NULL REFERENCES shops(id),
        host TEXT NOT NULL,
        referrer TEXT,
        note TEXT NOT NULL,
        lang TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
        closed_at TIMESTAMPTZ,
        closed_by TEXT,
        resolution TEXT
    );
    CREATE INDEX reports_by_time ON reports(created_at, id);
    """,
    # 3: what an edit of a shop's record changed; NULL for state changes.
    """
    ALTER TABLE events ADD COLUMN changes JSONB;
    """,
)

MAX_SIGHTINGS_PER_SHOP: Final = rules.MAX_SIGHTINGS_PER_SHOP

# Advisory lock keys (per database), arbitrary but fixed: every instance must use the same.
_MIGRATION_LOCK: Final = 0x6B65_7572_6D00_0001
_CHANGES_LOCK: Final = 0x6B65_7572_6D00_0002
_SIGHTINGS_LOCK: Final = 0x6B65_7572_6D00_0003
_DOMAINS_LOCK: Final = 0x6B65_7572_6D00_0004

POOL_MIN: Final = 1
POOL_MAX: Final = 8

_SHOP_COLUMNS: Final = """
    SELECT s.id, s.display_name, s.legal_name, s.enterprise_number, s.categories, s.state,
           s.state_since, s.certified_since, s.valid_until, s.last_audit, s.created_at,
           s.updated_at,
           coalesce(
               (SELECT array_agg(d.domain ORDER BY d.position)
                FROM shop_domains d WHERE d.shop_id = s.id),
               '{}'
           ) AS domains
    FROM shops s
"""

# Like SQLite's `COLLATE NOCASE`: case-insensitive, then byte order, whatever the locale.
_BY_NAME: Final = ' ORDER BY lower(s.display_name) COLLATE "C", s.id'

# The pattern arrives with `\`, `%` and `_` escaped, so a search for "100%" is literal.
_SEARCH: Final = (
    _SHOP_COLUMNS  # noqa: S608 - constant text; every value is a parameter
    + r"""
    WHERE s.display_name ILIKE %s ESCAPE '\' OR s.legal_name ILIKE %s ESCAPE '\'
        OR EXISTS (SELECT 1 FROM shop_domains d
                   WHERE d.shop_id = s.id AND d.domain ILIKE %s ESCAPE '\')
    """
    + _BY_NAME
    + " LIMIT %s"
)

_Cursor = psycopg.Cursor[DictRow]


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class PostgresRegistry:
    """A small connection pool; every method checks out one connection for its work."""

    def __init__(
        self, url: str, *, connect_timeout: float = 3.0, statement_timeout: float = 2.0
    ) -> None:
        self._statement_timeout_ms = max(1, round(statement_timeout * 1000))
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
            with conn:
                _migrate(conn)
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
    def _cursor(self, *, write: bool = False) -> Iterator[_Cursor]:
        """A cursor on a pooled connection; `write` wraps the block in one transaction."""
        try:
            with self._pool.connection() as conn:
                if write:
                    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
                        yield cur
                else:
                    with conn.cursor(row_factory=dict_row) as cur:
                        yield cur
        except psycopg.OperationalError as exc:
            # Timeouts, a dead server, an exhausted pool: a 503 with no internals in the text.
            raise Unavailable(f"the registry is unavailable ({type(exc).__name__})") from exc

    def _read(self, query: LiteralString, params: Sequence[Any] = ()) -> list[DictRow]:
        with self._cursor() as cur:
            return cur.execute(query, params).fetchall()

    def ping(self) -> None:
        self._read("SELECT 1")

    def close(self) -> None:
        self._pool.close()

    def create_shop(self, shop: NewShop, *, actor: str) -> Shop:
        with self._cursor(write=True) as cur:
            created = self._insert(cur, shop, actor)
            _note_changes(cur, [created.id])
            return created

    def import_shops(
        self,
        shops: Sequence[NewShop],
        *,
        actor: str,
        progress: Callable[[int], None] | None = None,
    ) -> list[Shop]:
        created: list[Shop] = []
        with self._cursor(write=True) as cur:
            for shop in shops:
                created.append(self._insert(cur, shop, actor))
                if progress is not None:
                    progress(1)
            _note_changes(cur, [s.id for s in created])
        return created

    def _insert(self, cur: _Cursor, shop: NewShop, actor: str) -> Shop:
        now = _now()
        shop_id = rules.new_shop_id()
        cur.execute(
            "INSERT INTO shops (id, display_name, legal_name, enterprise_number, categories, "
            "state, state_since, certified_since, valid_until, last_audit, created_at, "
            "updated_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
            (
                shop_id,
                shop.display_name,
                shop.legal_name,
                shop.enterprise_number,
                list(shop.categories),
                shop.state,
                rules.first_state_since(shop, now),
                shop.certified_since,
                shop.valid_until,
                shop.last_audit,
                now,
                now,
            ),
        )
        _check_not_confusable(cur, shop.domains, None)
        _write_domains(cur, shop_id, shop.domains)
        cur.execute(
            "INSERT INTO events (shop_id, at, actor, from_state, to_state, reason) "
            "VALUES (%s,%s,%s,%s,%s,%s)",
            (shop_id, now, actor, None, shop.state, "registered"),
        )
        return _load(cur, shop_id)

    def get_shop(self, shop_id: str) -> Shop | None:
        if not rules.is_shop_id(shop_id):
            return None
        rows = self._read(_SHOP_COLUMNS + " WHERE s.id = %s", (shop_id,))
        return _shop(rows[0]) if rows else None

    def list_shops(self, *, limit: int = 1000, offset: int = 0) -> list[Shop]:
        rows = self._read(_SHOP_COLUMNS + _BY_NAME + " LIMIT %s OFFSET %s", (limit, offset))
        return [_shop(r) for r in rows]

    def count_shops(self) -> int:
        return int(self._read("SELECT count(*) AS n FROM shops")[0]["n"])

    def update_shop(
        self,
        shop_id: str,
        *,
        actor: str,
        reason: str | None,
        display_name: str | None = None,
        legal_name: str | None = None,
        enterprise_number: str | None = None,
        domains: tuple[str, ...] | None = None,
        categories: tuple[str, ...] | None = None,
        certified_since: date | None = None,
        valid_until: date | None = None,
        last_audit: date | None = None,
    ) -> Shop:
        with self._cursor(write=True) as cur:
            current = _load(cur, shop_id, lock=True)
            plan = rules.plan_update(
                current,
                reason=reason,
                display_name=display_name,
                legal_name=legal_name,
                enterprise_number=enterprise_number,
                domains=domains,
                categories=categories,
                certified_since=certified_since,
                valid_until=valid_until,
                last_audit=last_audit,
            )
            if not plan.changes:
                return current
            # psycopg adapts dates itself; the category tuple goes in as a text[] list.
            fields: dict[str, Any] = {
                name: list(value) if isinstance(value, tuple) else value
                for name, value in plan.columns.items()
            }
            now = _now()
            fields["updated_at"] = now
            assignments = sql.SQL(", ").join(
                sql.SQL("{} = %s").format(sql.Identifier(name)) for name in fields
            )
            cur.execute(
                sql.SQL("UPDATE shops SET {} WHERE id = %s").format(assignments),
                (*fields.values(), shop_id),
            )
            if plan.domains is not None:
                _check_not_confusable(cur, plan.domains, shop_id)
                _write_domains(cur, shop_id, plan.domains)
            cur.execute(
                "INSERT INTO events (shop_id, at, actor, from_state, to_state, reason, changes) "
                "VALUES (%s,%s,%s,%s,%s,%s,%s)",
                (
                    shop_id,
                    now,
                    actor,
                    current.state,
                    current.state,
                    plan.reason,
                    Jsonb(plan.changes),
                ),
            )
            updated = _load(cur, shop_id)
            _note_changes(cur, [shop_id])
            return updated

    def set_state(self, shop_id: str, state: State, *, reason: str, actor: str) -> Event:
        reason = rules.clean_text(reason, "reason", limit=rules.MAX_REASON)
        with self._cursor(write=True) as cur:
            current = _load(cur, shop_id, lock=True)
            rules.check_transition(current.state, state)
            now = _now()
            day = rules.first_certification_day(current.certified_since, state, now)
            if day is not None:
                cur.execute("UPDATE shops SET certified_since = %s WHERE id = %s", (day, shop_id))
            cur.execute(
                "UPDATE shops SET state = %s, state_since = %s, updated_at = %s WHERE id = %s",
                (state, now, now, shop_id),
            )
            row = cur.execute(
                "INSERT INTO events (shop_id, at, actor, from_state, to_state, reason) "
                "VALUES (%s,%s,%s,%s,%s,%s) RETURNING seq",
                (shop_id, now, actor, current.state, state, reason),
            ).fetchone()
            assert row is not None
            _note_changes(cur, [shop_id])
            return Event(
                seq=int(row["seq"]),
                shop_id=shop_id,
                at=now,
                actor=actor,
                from_state=current.state,
                to_state=state,
                reason=reason,
            )

    def history(self, shop_id: str) -> list[Event]:
        rows = self._read(
            "SELECT seq, shop_id, at, actor, from_state, to_state, reason, changes FROM events "
            "WHERE shop_id = %s ORDER BY seq",
            (shop_id,),
        )
        return [
            Event(
                seq=int(r["seq"]),
                shop_id=r["shop_id"],
                at=_utc(r["at"]),
                actor=r["actor"],
                from_state=cast(State | None, r["from_state"]),
                to_state=cast(State, r["to_state"]),
                reason=r["reason"],
                changes=r["changes"],
            )
            for r in rows
        ]

    def find_by_domain(self, domain: str) -> Shop | None:
        normalised = rules.try_normalise_domain(domain)
        if normalised is None:
            return None
        rows = self._read(
            _SHOP_COLUMNS + " JOIN shop_domains hit ON hit.shop_id = s.id WHERE hit.domain = %s",
            (normalised,),
        )
        return _shop(rows[0]) if rows else None

    def search(self, query: str, *, limit: int = 20) -> list[Shop]:
        text = " ".join(query.split())[:100]
        if not text:
            return []
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._read(_SEARCH, (pattern, pattern, pattern, limit))
        return [_shop(r) for r in rows]

    def change_cursor(self) -> int:
        return int(self._read("SELECT coalesce(max(seq), 0) AS seq FROM changes")[0]["seq"])

    def changes_since(self, cursor: int) -> tuple[int, list[str]]:
        rows = self._read(
            "SELECT seq, shop_id FROM changes WHERE seq > %s ORDER BY seq LIMIT 10000", (cursor,)
        )
        if not rows:
            return cursor, []
        return int(rows[-1]["seq"]), sorted({r["shop_id"] for r in rows})

    def record_sightings(self, batch: Batch) -> None:
        if not batch:
            return
        now = _now()
        with self._cursor(write=True) as cur:
            # Instances flush at once; one at a time keeps the per-shop bound exact.
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_SIGHTINGS_LOCK,))
            for (shop_id, source), seen in batch.items():
                rows = cur.execute(
                    "SELECT host, count FROM sightings WHERE shop_id = %s AND source = %s",
                    (shop_id, source),
                ).fetchall()
                existing = {r["host"]: int(r["count"]) for r in rows}
                todo = sightings.plan(existing, seen, MAX_SIGHTINGS_PER_SHOP)
                if todo.evict:
                    cur.execute(
                        "DELETE FROM sightings WHERE shop_id = %s AND source = %s "
                        "AND host = ANY(%s)",
                        (shop_id, source, todo.evict),
                    )
                cur.executemany(
                    "UPDATE sightings SET count = count + %s, last_seen = %s, registered = %s "
                    "WHERE shop_id = %s AND source = %s AND host = %s",
                    [
                        (hit.hits, now, hit.registered, shop_id, source, host)
                        for host, hit in todo.bump.items()
                    ],
                )
                cur.executemany(
                    "INSERT INTO sightings (shop_id, source, host, registered, first_seen, "
                    "last_seen, count) VALUES (%s,%s,%s,%s,%s,%s,%s)",
                    [
                        (shop_id, source, host, hit.registered, now, now, floor + hit.hits)
                        for host, (hit, floor) in todo.insert.items()
                    ],
                )

    def sightings(
        self, *, shop_id: str | None = None, unregistered_only: bool = False
    ) -> list[Sighting]:
        # What browsers reported first: a `d=` claim is only what someone typed.
        rows = self._read(
            "SELECT shop_id, source, host, registered, first_seen, last_seen, count "
            "FROM sightings WHERE (%s::text IS NULL OR shop_id = %s) "
            "AND (NOT %s OR NOT registered) "
            "ORDER BY source = 'claim', count DESC, host COLLATE \"C\" LIMIT 1000",
            (shop_id, shop_id, unregistered_only),
        )
        return [
            Sighting(
                shop_id=r["shop_id"],
                host=r["host"],
                registered=bool(r["registered"]),
                first_seen=_utc(r["first_seen"]),
                last_seen=_utc(r["last_seen"]),
                count=int(r["count"]),
                source=r["source"],
            )
            for r in rows
        ]

    def add_report(self, report: NewReport) -> Report:
        report_id = rules.new_report_id()
        with self._cursor(write=True) as cur:
            if (
                cur.execute("SELECT 1 FROM shops WHERE id = %s", (report.shop_id,)).fetchone()
                is None
            ):
                raise NotFound(f"no shop with id {report.shop_id!r}")
            row = cur.execute(
                "INSERT INTO reports (id, shop_id, host, referrer, note, lang, created_at, status) "
                "VALUES (%s,%s,%s,%s,%s,%s,%s,'open') RETURNING *",
                (
                    report_id,
                    report.shop_id,
                    report.host,
                    report.referrer,
                    report.note,
                    report.lang,
                    _now(),
                ),
            ).fetchone()
        assert row is not None
        return report_from_row(row, _utc)

    def reports(
        self, *, status: ReportStatus | None = None, shop_id: str | None = None, limit: int = 100
    ) -> list[Report]:
        rows = self._read(
            "SELECT * FROM reports WHERE (%s::text IS NULL OR status = %s) "
            "AND (%s::text IS NULL OR shop_id = %s) ORDER BY created_at DESC, id LIMIT %s",
            (status, status, shop_id, shop_id, limit),
        )
        return [report_from_row(r, _utc) for r in rows]

    def get_report(self, report_id: str) -> Report | None:
        rows = self._read("SELECT * FROM reports WHERE id = %s", (report_id,))
        return report_from_row(rows[0], _utc) if rows else None

    def close_report(self, report_id: str, *, actor: str, resolution: str) -> Report:
        resolution = rules.clean_text(resolution, "resolution", limit=rules.MAX_REASON)
        with self._cursor(write=True) as cur:
            found = cur.execute(
                "SELECT status FROM reports WHERE id = %s FOR UPDATE", (report_id,)
            ).fetchone()
            if found is None:
                raise NotFound(f"no report with id {report_id!r}")
            if found["status"] == "closed":
                raise Conflict(f"report {report_id} is already closed")
            row = cur.execute(
                "UPDATE reports SET status = 'closed', closed_at = %s, closed_by = %s, "
                "resolution = %s WHERE id = %s RETURNING *",
                (_now(), actor, resolution, report_id),
            ).fetchone()
        assert row is not None
        return report_from_row(row, _utc)

    def add_token(self, name: str, digest: str) -> None:
        try:
            with self._cursor(write=True) as cur:
                cur.execute(
                    "INSERT INTO api_tokens (name, digest, created_at) VALUES (%s,%s,%s)",
                    (name, digest, _now()),
                )
        except psycopg.errors.UniqueViolation:
            raise Conflict(f"a token named {name!r} already exists") from None

    def token_digests(self) -> list[tuple[str, str]]:
        return [(r["name"], r["digest"]) for r in self._read("SELECT name, digest FROM api_tokens")]


def _migrate(conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        # Instances starting together queue here; the first migrates, the rest find it done.
        # Longer than the request limit: a real migration (or the wait for one) may take time.
        conn.execute("SET LOCAL statement_timeout = '60s'")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        current = int(row[0]) if row else 0
        if row is None:
            conn.execute("INSERT INTO schema_version VALUES (0)")
        if current > len(MIGRATIONS):
            raise RuntimeError(
                f"database schema version {current} is newer than this code "
                f"({len(MIGRATIONS)}); upgrade the service"
            )
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            conn.execute(script)
            conn.execute("UPDATE schema_version SET version = %s", (version,))


def has_schema(url: str, *, connect_timeout: float = 3.0) -> bool:
    """Whether this database holds a registry already (`badge` made its tables), for the
    CLI's read commands, which must not make an empty one. Connection errors propagate."""
    with psycopg.connect(url, connect_timeout=max(2, round(connect_timeout))) as conn:
        row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    return bool(row and row[0])


def _note_changes(cur: _Cursor, shop_ids: Sequence[str]) -> None:
    """Append to the change feed; call it last in a write transaction.

    A BIGSERIAL value is taken at insert but seen at commit, so two writers could commit
    out of order and a poller would skip the smaller seq for ever. Holding this lock from the
    insert to the commit makes seq order the commit order.
    """
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_CHANGES_LOCK,))
    cur.execute("INSERT INTO changes (shop_id) SELECT unnest(%s::text[])", (list(shop_ids),))


def _check_not_confusable(cur: _Cursor, domains: Sequence[str], shop_id: str | None) -> None:
    """Refuse look-alikes of other shops' domains. Writers of domains take turns on a lock
    held to their commit, so two look-alikes registered at once cannot both pass."""
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_DOMAINS_LOCK,))
    rows = cur.execute(
        "SELECT domain, shop_id FROM shop_domains WHERE shop_id IS DISTINCT FROM %s", (shop_id,)
    ).fetchall()
    rules.check_not_confusable(domains, {r["domain"]: r["shop_id"] for r in rows})


def _write_domains(cur: _Cursor, shop_id: str, domains: Sequence[str]) -> None:
    cur.execute("DELETE FROM shop_domains WHERE shop_id = %s", (shop_id,))
    # ON CONFLICT waits for a concurrent writer of the same domain instead of failing.
    # Either way, the first taken domain is reported, with its holder.
    written = {
        r["domain"]
        for r in cur.execute(
            "INSERT INTO shop_domains (domain, shop_id, position) "
            "SELECT domain, %s, ord - 1 FROM unnest(%s::text[]) WITH ORDINALITY AS t(domain, ord) "
            "ON CONFLICT (domain) DO NOTHING RETURNING domain",
            (shop_id, list(domains)),
        ).fetchall()
    }
    for domain in domains:
        if domain not in written:
            row = cur.execute(
                "SELECT shop_id FROM shop_domains WHERE domain = %s", (domain,)
            ).fetchone()
            holder = row["shop_id"] if row else "another shop"
            raise Conflict(f"domain {domain} is already registered to shop {holder}")


def _load(cur: _Cursor, shop_id: str, *, lock: bool = False) -> Shop:
    # FOR UPDATE serialises changes to one shop, as SQLite's single writer does.
    suffix: LiteralString = " WHERE s.id = %s FOR UPDATE OF s" if lock else " WHERE s.id = %s"
    row = cur.execute(_SHOP_COLUMNS + suffix, (shop_id,)).fetchone()
    if row is None:
        raise NotFound(f"no shop with id {shop_id}")
    return _shop(row)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _shop(row: DictRow) -> Shop:
    return Shop(
        id=row["id"],
        display_name=row["display_name"],
        legal_name=row["legal_name"],
        enterprise_number=row["enterprise_number"],
        domains=tuple(row["domains"]),
        categories=tuple(cast(list[Category], row["categories"])),
        state=cast(State, row["state"]),
        state_since=_utc(row["state_since"]),
        certified_since=row["certified_since"],
        valid_until=row["valid_until"],
        last_audit=row["last_audit"],
        created_at=_utc(row["created_at"]),
        updated_at=_utc(row["updated_at"]),
    )
