"""SQLite registry: the single-machine default. The schema is versioned and migrates forward."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, cast

from badge import sightings
from badge.errors import Conflict, NotFound, ValidationError
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

MIGRATIONS: Final[tuple[str, ...]] = (
    """
    CREATE TABLE shops (
        id TEXT PRIMARY KEY,
        display_name TEXT NOT NULL,
        legal_name TEXT NOT NULL,
        enterprise_number TEXT NOT NULL,
        categories TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('certified', 'suspended', 'revoked')),
        state_since TEXT NOT NULL,
        certified_since TEXT,
        valid_until TEXT,
        last_audit TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE shop_domains (
        domain TEXT PRIMARY KEY,
        shop_id TEXT NOT NULL REFERENCES shops(id),
        position INTEGER NOT NULL
    );
    CREATE INDEX shop_domains_shop ON shop_domains(shop_id);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        shop_id TEXT NOT NULL REFERENCES shops(id),
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX events_shop ON events(shop_id, seq);
    CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        shop_id TEXT NOT NULL
    );
    CREATE TABLE sightings (
        shop_id TEXT NOT NULL,
        host TEXT NOT NULL,
        registered INTEGER NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (shop_id, host)
    );
    CREATE TABLE api_tokens (
        name TEXT PRIMARY KEY,
        digest TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
    );
    """,
    # 2: sightings by source (Referer or `d=` claim), each with its own bound; reports.
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
    CREATE TABLE reports (
        id TEXT PRIMARY KEY,
        shop_id TEXT NOT NULL REFERENCES shops(id),
        host TEXT NOT NULL,
        referrer TEXT,
        note TEXT NOT NULL,
        lang TEXT NOT NULL,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
        closed_at TEXT,
        closed_by TEXT,
        resolution TEXT
    );
    CREATE INDEX reports_by_time ON reports(created_at, id);
    """,
    # 3: what an edit of a shop's record changed, as JSON; NULL for state changes.
    """
    ALTER TABLE events ADD COLUMN changes TEXT;
    """,
)

MAX_SIGHTINGS_PER_SHOP: Final = rules.MAX_SIGHTINGS_PER_SHOP


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class SQLiteRegistry:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=5)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._migrate()

    def _migrate(self) -> None:
        with self._tx() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version").fetchone()
            current = row[0] if row else 0
            if row is None:
                db.execute("INSERT INTO schema_version VALUES (0)")
            if current > len(MIGRATIONS):
                raise RuntimeError(
                    f"database schema version {current} is newer than this code "
                    f"({len(MIGRATIONS)}); upgrade the service"
                )
            for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
                for statement in _split_sql(script):
                    db.execute(statement)
                db.execute("UPDATE schema_version SET version = ?", (version,))

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def ping(self) -> None:
        self._read("SELECT 1")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def create_shop(self, shop: NewShop, *, actor: str) -> Shop:
        with self._tx() as db:
            return self._insert(db, shop, actor)

    def import_shops(
        self,
        shops: Sequence[NewShop],
        *,
        actor: str,
        progress: Callable[[int], None] | None = None,
    ) -> list[Shop]:
        created: list[Shop] = []
        with self._tx() as db:
            for shop in shops:
                created.append(self._insert(db, shop, actor))
                if progress is not None:
                    progress(1)
        return created

    def _insert(self, db: sqlite3.Connection, shop: NewShop, actor: str) -> Shop:
        self._check_domains_free(db, shop.domains, None)
        moment = _now()
        now = moment.isoformat()
        shop_id = rules.new_shop_id()
        since = rules.first_state_since(shop, moment).isoformat()
        db.execute(
            "INSERT INTO shops VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                shop_id,
                shop.display_name,
                shop.legal_name,
                shop.enterprise_number,
                json.dumps(list(shop.categories)),
                shop.state,
                since,
                _d(shop.certified_since),
                _d(shop.valid_until),
                _d(shop.last_audit),
                now,
                now,
            ),
        )
        self._write_domains(db, shop_id, shop.domains)
        db.execute(
            "INSERT INTO events (shop_id, at, actor, from_state, to_state, reason) "
            "VALUES (?,?,?,?,?,?)",
            (shop_id, now, actor, None, shop.state, "registered"),
        )
        db.execute("INSERT INTO changes (shop_id) VALUES (?)", (shop_id,))
        return self._load(db, shop_id)

    def _check_domains_free(
        self, db: sqlite3.Connection, domains: Sequence[str], shop_id: str | None
    ) -> None:
        for domain in domains:
            row = db.execute(
                "SELECT shop_id FROM shop_domains WHERE domain = ?", (domain,)
            ).fetchone()
            if row is not None and row[0] != shop_id:
                raise Conflict(f"domain {domain} is already registered to shop {row[0]}")
        # Inside the write transaction (BEGIN IMMEDIATE), so no look-alike slips in between.
        taken = {
            r[0]: r[1]
            for r in db.execute(
                "SELECT domain, shop_id FROM shop_domains WHERE shop_id IS NOT ?", (shop_id,)
            )
        }
        rules.check_not_confusable(domains, taken)

    def _write_domains(self, db: sqlite3.Connection, shop_id: str, domains: Sequence[str]) -> None:
        db.execute("DELETE FROM shop_domains WHERE shop_id = ?", (shop_id,))
        db.executemany(
            "INSERT INTO shop_domains VALUES (?,?,?)",
            [(domain, shop_id, i) for i, domain in enumerate(domains)],
        )

    def _load(self, db: sqlite3.Connection, shop_id: str) -> Shop:
        row = db.execute("SELECT * FROM shops WHERE id = ?", (shop_id,)).fetchone()
        if row is None:
            raise NotFound(f"no shop with id {shop_id}")
        domains = db.execute(
            "SELECT domain FROM shop_domains WHERE shop_id = ? ORDER BY position", (shop_id,)
        ).fetchall()
        return _shop(row, tuple(d[0] for d in domains))

    def get_shop(self, shop_id: str) -> Shop | None:
        if not rules.is_shop_id(shop_id):
            return None
        with self._lock:
            try:
                return self._load(self._db, shop_id)
            except NotFound:
                return None

    def list_shops(self, *, limit: int = 1000, offset: int = 0) -> list[Shop]:
        with self._lock:
            ids = self._db.execute(
                "SELECT id FROM shops ORDER BY display_name COLLATE NOCASE, id LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
            return [self._load(self._db, r[0]) for r in ids]

    def count_shops(self) -> int:
        return int(self._read("SELECT count(*) FROM shops")[0][0])

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
        with self._tx() as db:
            current = self._load(db, shop_id)
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
            fields: dict[str, Any] = {name: _column(value) for name, value in plan.columns.items()}
            now = _now().isoformat()
            fields["updated_at"] = now
            assignments = ", ".join(f"{name} = ?" for name in fields)
            db.execute(
                f"UPDATE shops SET {assignments} WHERE id = ?",  # noqa: S608 - names are ours
                (*fields.values(), shop_id),
            )
            if plan.domains is not None:
                self._check_domains_free(db, plan.domains, shop_id)
                self._write_domains(db, shop_id, plan.domains)
            db.execute(
                "INSERT INTO events (shop_id, at, actor, from_state, to_state, reason, changes) "
                "VALUES (?,?,?,?,?,?,?)",
                (
                    shop_id,
                    now,
                    actor,
                    current.state,
                    current.state,
                    plan.reason,
                    json.dumps(plan.changes, ensure_ascii=False),
                ),
            )
            db.execute("INSERT INTO changes (shop_id) VALUES (?)", (shop_id,))
            return self._load(db, shop_id)

    def set_state(self, shop_id: str, state: State, *, reason: str, actor: str) -> Event:
        reason = rules.clean_text(reason, "reason", limit=rules.MAX_REASON)
        with self._tx() as db:
            current = self._load(db, shop_id)
            rules.check_transition(current.state, state)
            now = _now().isoformat()
            day = rules.first_certification_day(
                current.certified_since, state, datetime.fromisoformat(now)
            )
            if day is not None:
                db.execute(
                    "UPDATE shops SET certified_since = ? WHERE id = ?", (day.isoformat(), shop_id)
                )
            db.execute(
                "UPDATE shops SET state = ?, state_since = ?, updated_at = ? WHERE id = ?",
                (state, now, now, shop_id),
            )
            cursor = db.execute(
                "INSERT INTO events (shop_id, at, actor, from_state, to_state, reason) "
                "VALUES (?,?,?,?,?,?)",
                (shop_id, now, actor, current.state, state, reason),
            )
            db.execute("INSERT INTO changes (shop_id) VALUES (?)", (shop_id,))
            seq = cursor.lastrowid
            assert seq is not None
            return Event(
                seq=seq,
                shop_id=shop_id,
                at=datetime.fromisoformat(now),
                actor=actor,
                from_state=current.state,
                to_state=state,
                reason=reason,
            )

    def history(self, shop_id: str) -> list[Event]:
        rows = self._read("SELECT * FROM events WHERE shop_id = ? ORDER BY seq", (shop_id,))
        return [
            Event(
                seq=r["seq"],
                shop_id=r["shop_id"],
                at=datetime.fromisoformat(r["at"]),
                actor=r["actor"],
                from_state=cast(State | None, r["from_state"]),
                to_state=cast(State, r["to_state"]),
                reason=r["reason"],
                changes=None if r["changes"] is None else json.loads(r["changes"]),
            )
            for r in rows
        ]

    def find_by_domain(self, domain: str) -> Shop | None:
        normalised = rules.try_normalise_domain(domain)
        if normalised is None:
            return None
        rows = self._read("SELECT shop_id FROM shop_domains WHERE domain = ?", (normalised,))
        return self.get_shop(rows[0][0]) if rows else None

    def search(self, query: str, *, limit: int = 20) -> list[Shop]:
        text = " ".join(query.split())[:100]
        if not text:
            return []
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._read(
            "SELECT DISTINCT s.id FROM shops s LEFT JOIN shop_domains d ON d.shop_id = s.id "
            "WHERE s.display_name LIKE ? ESCAPE '\\' OR s.legal_name LIKE ? ESCAPE '\\' "
            "OR d.domain LIKE ? ESCAPE '\\' ORDER BY s.display_name COLLATE NOCASE LIMIT ?",
            (pattern, pattern, pattern, limit),
        )
        return [shop for r in rows if (shop := self.get_shop(r[0])) is not None]

    def change_cursor(self) -> int:
        return int(self._read("SELECT coalesce(max(seq), 0) FROM changes")[0][0])

    def changes_since(self, cursor: int) -> tuple[int, list[str]]:
        rows = self._read(
            "SELECT seq, shop_id FROM changes WHERE seq > ? ORDER BY seq LIMIT 10000", (cursor,)
        )
        if not rows:
            return cursor, []
        return int(rows[-1][0]), sorted({r[1] for r in rows})

    def record_sightings(self, batch: Batch) -> None:
        if not batch:
            return
        now = _now().isoformat()
        with self._tx() as db:
            for (shop_id, source), seen in batch.items():
                rows = db.execute(
                    "SELECT host, count FROM sightings WHERE shop_id = ? AND source = ?",
                    (shop_id, source),
                ).fetchall()
                todo = sightings.plan({r[0]: r[1] for r in rows}, seen, MAX_SIGHTINGS_PER_SHOP)
                for host in todo.evict:
                    db.execute(
                        "DELETE FROM sightings WHERE shop_id = ? AND source = ? AND host = ?",
                        (shop_id, source, host),
                    )
                for host, hit in todo.bump.items():
                    db.execute(
                        "UPDATE sightings SET count = count + ?, last_seen = ?, registered = ? "
                        "WHERE shop_id = ? AND source = ? AND host = ?",
                        (hit.hits, now, int(hit.registered), shop_id, source, host),
                    )
                for host, (hit, floor) in todo.insert.items():
                    db.execute(
                        "INSERT INTO sightings VALUES (?,?,?,?,?,?,?)",
                        (shop_id, source, host, int(hit.registered), now, now, floor + hit.hits),
                    )

    def sightings(
        self, *, shop_id: str | None = None, unregistered_only: bool = False
    ) -> list[Sighting]:
        sql = "SELECT * FROM sightings WHERE 1=1"
        params: list[Any] = []
        if shop_id is not None:
            sql += " AND shop_id = ?"
            params.append(shop_id)
        if unregistered_only:
            sql += " AND registered = 0"
        # What browsers reported first: a `d=` claim is only what someone typed.
        sql += " ORDER BY source = 'claim', count DESC, host LIMIT 1000"
        return [
            Sighting(
                shop_id=r["shop_id"],
                host=r["host"],
                registered=bool(r["registered"]),
                first_seen=datetime.fromisoformat(r["first_seen"]),
                last_seen=datetime.fromisoformat(r["last_seen"]),
                count=r["count"],
                source=r["source"],
            )
            for r in self._read(sql, params)
        ]

    def add_report(self, report: NewReport) -> Report:
        report_id = rules.new_report_id()
        with self._tx() as db:
            if db.execute("SELECT 1 FROM shops WHERE id = ?", (report.shop_id,)).fetchone() is None:
                raise NotFound(f"no shop with id {report.shop_id!r}")
            db.execute(
                "INSERT INTO reports VALUES (?,?,?,?,?,?,?,'open',NULL,NULL,NULL)",
                (
                    report_id,
                    report.shop_id,
                    report.host,
                    report.referrer,
                    report.note,
                    report.lang,
                    _now().isoformat(),
                ),
            )
        found = self.get_report(report_id)
        assert found is not None
        return found

    def reports(
        self, *, status: ReportStatus | None = None, shop_id: str | None = None, limit: int = 100
    ) -> list[Report]:
        rows = self._read(
            "SELECT * FROM reports WHERE (? IS NULL OR status = ?) AND (? IS NULL OR shop_id = ?) "
            "ORDER BY created_at DESC, id LIMIT ?",
            (status, status, shop_id, shop_id, limit),
        )
        return [report_from_row(r, datetime.fromisoformat) for r in rows]

    def get_report(self, report_id: str) -> Report | None:
        rows = self._read("SELECT * FROM reports WHERE id = ?", (report_id,))
        return report_from_row(rows[0], datetime.fromisoformat) if rows else None

    def close_report(self, report_id: str, *, actor: str, resolution: str) -> Report:
        resolution = rules.clean_text(resolution, "resolution", limit=rules.MAX_REASON)
        with self._tx() as db:
            row = db.execute("SELECT status FROM reports WHERE id = ?", (report_id,)).fetchone()
            if row is None:
                raise NotFound(f"no report with id {report_id!r}")
            if row[0] == "closed":
                raise Conflict(f"report {report_id} is already closed")
            db.execute(
                "UPDATE reports SET status = 'closed', closed_at = ?, closed_by = ?, "
                "resolution = ? WHERE id = ?",
                (_now().isoformat(), actor, resolution, report_id),
            )
        found = self.get_report(report_id)
        assert found is not None
        return found

    def add_token(self, name: str, digest: str) -> None:
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO api_tokens VALUES (?,?,?)", (name, digest, _now().isoformat())
                )
        except sqlite3.IntegrityError:
            raise Conflict(f"a token named {name!r} already exists") from None

    def token_digests(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self._read("SELECT name, digest FROM api_tokens")]


def _column(value: object) -> object:
    """SQLite keeps dates as ISO text and category lists as JSON."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return json.dumps(list(value))
    return value


def _d(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _shop(row: sqlite3.Row, domains: tuple[str, ...]) -> Shop:
    return Shop(
        id=row["id"],
        display_name=row["display_name"],
        legal_name=row["legal_name"],
        enterprise_number=row["enterprise_number"],
        domains=domains,
        categories=tuple(cast(list[Category], json.loads(row["categories"]))),
        state=cast(State, row["state"]),
        state_since=datetime.fromisoformat(row["state_since"]),
        certified_since=_date(row["certified_since"]),
        valid_until=_date(row["valid_until"]),
        last_audit=_date(row["last_audit"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )


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
    return SQLiteRegistry(path)
