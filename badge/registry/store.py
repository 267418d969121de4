"""What both SQL registries do, written once.

SQLite and PostgreSQL differ only in what they provide here: a connection (`Tx`) that
runs this module's SQL with `?` placeholders and turns values to and from their column
types, a few SQL fragments, and their migrations. Every rule is checked by rules.py, on the
row as it will be written, inside the write transaction.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, Unpack

from badge.errors import NotFound
from badge.registry import changes, rules
from badge.registry.model import (
    Event,
    NewShop,
    Shop,
    ShopEdit,
    event_from_row,
    shop_from_record,
)
from badge.registry.proofstore import ProofStore
from badge.vocabulary import State

Row = dict[str, Any]
# What writers take turns on until they commit (PostgreSQL's advisory locks; SQLite has
# one writer at a time already).
LockName = Literal["migration", "changes", "sightings", "domains", "proofs"]


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Tx(ABC):
    """One connection: inside a write transaction, or reading outside one."""

    @abstractmethod
    def rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        """Run one statement; its rows (none for a statement that returns none)."""

    @abstractmethod
    def run_many(self, sql: str, params: Iterable[Sequence[object]]) -> None: ...

    @abstractmethod
    def script(self, script: str) -> None:
        """Run a migration: several statements, no parameters."""

    @abstractmethod
    def lock(self, name: LockName) -> None:
        """Take turns with other writers of `name` until this transaction ends."""

    def run(self, sql: str, params: Sequence[object] = ()) -> None:
        self.rows(sql, params)

    def one(self, sql: str, params: Sequence[object] = ()) -> Row | None:
        found = self.rows(sql, params)
        return found[0] if found else None


def migrate(tx: Tx, scripts: Sequence[str]) -> None:
    """Bring the schema to the newest version; the numbered scripts never change."""
    # Instances starting together queue here; the first migrates, the rest find it done.
    tx.lock("migration")
    tx.run("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = tx.one("SELECT version FROM schema_version")
    current = int(row["version"]) if row else 0
    if row is None:
        tx.run("INSERT INTO schema_version VALUES (0)")
    if current > len(scripts):
        raise RuntimeError(
            f"database schema version {current} is newer than this code "
            f"({len(scripts)}); upgrade the service"
        )
    for version, script in enumerate(scripts[current:], start=current + 1):
        tx.script(script)
        tx.run("UPDATE schema_version SET version = ?", (version,))


class SQLRegistry(ProofStore, ABC):
    """The registry contract (base.Registry) on an SQL database. Methods are synchronous."""

    # The shop's domains in registration order, as one column named `domains`.
    DOMAINS: ClassVar[str]
    # The shop's domain proofs (model.DomainStatus) in the same order, as one JSON column.
    PROOFS: ClassVar[str]
    # ORDER BY display name: case-insensitive for ASCII, then byte order, then id.
    BY_NAME: ClassVar[str]
    # The case-insensitive LIKE operator.
    LIKE: ClassVar[str]
    # A COLLATE clause for byte order, so both backends sort hosts alike.
    BINARY: ClassVar[str]
    # Appended to a SELECT in a write transaction: hold the rows until commit.
    FOR_UPDATE: ClassVar[str]
    # What the driver raises for a broken UNIQUE constraint.
    DUPLICATE: ClassVar[tuple[type[Exception], ...]]

    @abstractmethod
    def _write(self) -> AbstractContextManager[Tx]:
        """One transaction: committed when the block ends, rolled back if it raises."""

    @abstractmethod
    def _reading(self) -> AbstractContextManager[Tx]: ...

    @abstractmethod
    def close(self) -> None: ...

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        with self._reading() as tx:
            return tx.rows(sql, params)

    @property
    def _shops(self) -> str:
        return f"SELECT s.*, {self.DOMAINS} AS domains, {self.PROOFS} AS proofs FROM shops s"  # noqa: S608 - our fragments

    def ping(self) -> None:
        self._read("SELECT 1 AS one")

    # Shops

    def create_shop(self, shop: NewShop, *, actor: str) -> Shop:
        return self.import_shops([shop], actor=actor)[0]

    def import_shops(
        self,
        shops: Sequence[NewShop],
        *,
        actor: str,
        progress: Callable[[int], None] | None = None,
    ) -> list[Shop]:
        created: list[Shop] = []
        with self._write() as tx:
            for shop in shops:
                created.append(self._insert(tx, shop, actor))
                if progress is not None:
                    progress(1)
            self._note_changes(tx, [s.id for s in created])
        return created

    def _insert(self, tx: Tx, shop: NewShop, actor: str) -> Shop:
        rules.check_new_shop(shop)
        now = _now()
        shop_id = rules.new_shop_id()
        self._check_domains_free(tx, shop_id, shop.domains)
        tx.run(
            "INSERT INTO shops (id, display_name, legal_name, enterprise_number, categories, "
            "state, state_since, certified_since, valid_until, last_audit, created_at, "
            "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                shop_id,
                shop.display_name,
                shop.legal_name,
                shop.enterprise_number,
                shop.categories,
                shop.state,
                changes.first_state_since(shop, now),
                shop.certified_since,
                shop.valid_until,
                shop.last_audit,
                now,
                now,
            ),
        )
        self._write_domains(tx, shop_id, shop.domains)
        self._append_event(tx, Event(0, shop_id, now, actor, None, shop.state, "registered"))
        return self._load(tx, shop_id)

    def _check_domains_free(self, tx: Tx, shop_id: str, domains: Sequence[str]) -> None:
        # Writers of domains take turns to their commit, so two shops registering the same
        # domain, or look-alikes, at once cannot both pass.
        tx.lock("domains")
        rows = tx.rows("SELECT domain, shop_id FROM shop_domains WHERE shop_id <> ?", (shop_id,))
        rules.check_domains_free(domains, {r["domain"]: r["shop_id"] for r in rows})

    def _write_domains(self, tx: Tx, shop_id: str, domains: Sequence[str]) -> None:
        tx.run("DELETE FROM shop_domains WHERE shop_id = ?", (shop_id,))
        tx.run_many(
            "INSERT INTO shop_domains (domain, shop_id, position) VALUES (?,?,?)",
            [(domain, shop_id, i) for i, domain in enumerate(domains)],
        )
        self._sync_proofs(tx, shop_id, domains)

    def _load(self, tx: Tx, shop_id: str, *, lock: bool = False) -> Shop:
        # Locking the row serialises changes to one shop, as SQLite's single writer does.
        suffix = self.FOR_UPDATE if lock else ""
        row = tx.one(self._shops + " WHERE s.id = ?" + suffix, (shop_id,))
        if row is None:
            raise NotFound(f"no shop with id {shop_id}")
        return shop_from_record(row)

    def get_shop(self, shop_id: str) -> Shop | None:
        if not rules.is_shop_id(shop_id):
            return None
        rows = self._read(self._shops + " WHERE s.id = ?", (shop_id,))
        return shop_from_record(rows[0]) if rows else None

    def list_shops(self, *, limit: int = 1000, offset: int = 0) -> list[Shop]:
        rows = self._read(self._shops + self.BY_NAME + " LIMIT ? OFFSET ?", (limit, offset))
        return [shop_from_record(r) for r in rows]

    def count_shops(self) -> int:
        return int(self._read("SELECT count(*) AS n FROM shops")[0]["n"])

    def update_shop(
        self, shop_id: str, *, actor: str, reason: str | None, **edit: Unpack[ShopEdit]
    ) -> Shop:
        with self._write() as tx:
            current = self._load(tx, shop_id, lock=True)
            plan = changes.plan_update(current, reason=reason, **edit)
            if not plan.changes:
                return current
            now = _now()
            fields = {**plan.columns, "updated_at": now}
            assignments = ", ".join(f"{name} = ?" for name in fields)
            tx.run(
                f"UPDATE shops SET {assignments} WHERE id = ?",  # noqa: S608 - names are ours
                (*fields.values(), shop_id),
            )
            if plan.domains is not None:
                self._check_domains_free(tx, shop_id, plan.domains)
                self._write_domains(tx, shop_id, plan.domains)
            state = current.state
            event = Event(0, shop_id, now, actor, state, state, plan.reason, plan.changes)
            self._append_event(tx, event)
            updated = self._load(tx, shop_id)
            self._note_changes(tx, [shop_id])
            return updated

    def set_state(self, shop_id: str, state: State, *, reason: str, actor: str) -> Event:
        reason = rules.clean_text(reason, "reason", limit=rules.MAX_REASON)
        with self._write() as tx:
            current = self._load(tx, shop_id, lock=True)
            now = _now()
            day = changes.plan_state_change(current, state, now)
            if day is not None:
                tx.run("UPDATE shops SET certified_since = ? WHERE id = ?", (day, shop_id))
            tx.run(
                "UPDATE shops SET state = ?, state_since = ?, updated_at = ? WHERE id = ?",
                (state, now, now, shop_id),
            )
            event = Event(0, shop_id, now, actor, current.state, state, reason)
            event = dataclasses.replace(event, seq=self._append_event(tx, event))
            self._note_changes(tx, [shop_id])
        return event

    def _append_event(self, tx: Tx, event: Event) -> int:
        row = tx.one(
            "INSERT INTO events (shop_id, at, actor, from_state, to_state, reason, changes) "
            "VALUES (?,?,?,?,?,?,?) RETURNING seq",
            (
                event.shop_id,
                event.at,
                event.actor,
                event.from_state,
                event.to_state,
                event.reason,
                event.changes,
            ),
        )
        assert row is not None
        return int(row["seq"])

    def _note_changes(self, tx: Tx, shop_ids: Sequence[str]) -> None:
        """Append to the change feed; call it last in a write transaction.

        In PostgreSQL a sequence value is taken at insert but seen at commit, so two writers
        could commit out of order and a poller would skip the smaller seq for ever. Holding
        the lock from the insert to the commit makes seq order the commit order.
        """
        tx.lock("changes")
        tx.run_many("INSERT INTO changes (shop_id) VALUES (?)", [(i,) for i in shop_ids])

    def history(self, shop_id: str) -> list[Event]:
        rows = self._read(
            "SELECT seq, shop_id, at, actor, from_state, to_state, reason, changes FROM events "
            "WHERE shop_id = ? ORDER BY seq",
            (shop_id,),
        )
        return [event_from_row(r) for r in rows]

    def find_by_domain(self, domain: str) -> Shop | None:
        normalised = rules.try_normalise_domain(domain)
        if normalised is None:
            return None
        rows = self._read(
            self._shops + " WHERE s.id = (SELECT shop_id FROM shop_domains WHERE domain = ?)",  # noqa: S608
            (normalised,),
        )
        return shop_from_record(rows[0]) if rows else None

    def search(self, query: str, *, limit: int = 20) -> list[Shop]:
        text = " ".join(query.split())[:100]
        if not text:
            return []
        # Escaped, so a search for "100%" is literal.
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        like = f" {self.LIKE} ? ESCAPE '\\'"
        rows = self._read(
            f"{self._shops} WHERE s.display_name{like} OR s.legal_name{like} OR EXISTS "  # noqa: S608 - our fragments; values are parameters
            f"(SELECT 1 FROM shop_domains d WHERE d.shop_id = s.id AND d.domain{like})"
            f"{self.BY_NAME} LIMIT ?",
            (pattern, pattern, pattern, limit),
        )
        return [shop_from_record(r) for r in rows]

    # The change feed every instance polls

    def change_cursor(self) -> int:
        return int(self._read("SELECT coalesce(max(seq), 0) AS seq FROM changes")[0]["seq"])

    def changes_since(self, cursor: int) -> tuple[int, list[str]]:
        rows = self._read(
            "SELECT seq, shop_id FROM changes WHERE seq > ? ORDER BY seq LIMIT 10000", (cursor,)
        )
        if not rows:
            return cursor, []
        return int(rows[-1]["seq"]), sorted({r["shop_id"] for r in rows})
