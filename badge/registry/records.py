"""What both SQL registries keep beside the shops, written once: badge sightings,
consumers' reports and the admin API's tokens.

A mixin of the SQLite and PostgreSQL registries, next to store.SQLRegistry, which gives it
its transactions and SQL fragments.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import ClassVar

from badge.errors import Conflict, NotFound
from badge.registry import rules
from badge.registry.model import (
    NewReport,
    Report,
    ReportStatus,
    Sighting,
    report_from_row,
    sighting_from_row,
)
from badge.registry.store import Row, Tx, _now
from badge.serving import sightings
from badge.serving.sightings import Batch


class RecordStore(ABC):
    # The fragments store.SQLRegistry documents, given by each backend.
    BINARY: ClassVar[str]
    FOR_UPDATE: ClassVar[str]
    DUPLICATE: ClassVar[tuple[type[Exception], ...]]

    @abstractmethod
    def _write(self) -> AbstractContextManager[Tx]: ...

    @abstractmethod
    def _read(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...

    # Sightings

    def record_sightings(self, batch: Batch) -> None:
        if not batch:
            return
        now = _now()
        with self._write() as tx:
            # Instances flush at once; one at a time keeps the per-shop bound exact.
            tx.lock("sightings")
            for (shop_id, source), seen in batch.items():
                key = (shop_id, source)
                rows = tx.rows(
                    "SELECT host, count FROM sightings WHERE shop_id = ? AND source = ?", key
                )
                existing = {r["host"]: int(r["count"]) for r in rows}
                todo = sightings.plan(existing, seen, rules.MAX_SIGHTINGS_PER_SHOP)
                tx.run_many(
                    "DELETE FROM sightings WHERE shop_id = ? AND source = ? AND host = ?",
                    [(*key, host) for host in todo.evict],
                )
                tx.run_many(
                    "UPDATE sightings SET count = count + ?, last_seen = ?, registered = ? "
                    "WHERE shop_id = ? AND source = ? AND host = ?",
                    [(hit.hits, now, hit.registered, *key, h) for h, hit in todo.bump.items()],
                )
                tx.run_many(
                    "INSERT INTO sightings (shop_id, source, host, registered, first_seen, "
                    "last_seen, count) VALUES (?,?,?,?,?,?,?)",
                    [
                        (*key, host, hit.registered, now, now, floor + hit.hits)
                        for host, (hit, floor) in todo.insert.items()
                    ],
                )

    def sightings(
        self, *, shop_id: str | None = None, unregistered_only: bool = False
    ) -> list[Sighting]:
        # What browsers reported first: a `d=` claim is only what someone typed.
        rows = self._read(
            "SELECT shop_id, source, host, registered, first_seen, last_seen, count "  # noqa: S608 - our fragment
            "FROM sightings WHERE (CAST(? AS TEXT) IS NULL OR shop_id = ?) "
            "AND (NOT ? OR NOT registered) "
            f"ORDER BY source = 'claim', count DESC, host{self.BINARY} LIMIT 1000",
            (shop_id, shop_id, unregistered_only),
        )
        return [sighting_from_row(r) for r in rows]

    # Reports

    def add_report(self, report: NewReport) -> Report:
        report_id = rules.new_report_id()
        with self._write() as tx:
            if tx.one("SELECT id FROM shops WHERE id = ?", (report.shop_id,)) is None:
                raise NotFound(f"no shop with id {report.shop_id!r}")
            tx.run(
                "INSERT INTO reports (id, shop_id, host, referrer, note, lang, created_at, status) "
                "VALUES (?,?,?,?,?,?,?,'open')",
                (
                    report_id,
                    report.shop_id,
                    report.host,
                    report.referrer,
                    report.note,
                    report.lang,
                    _now(),
                ),
            )
            return self._report(tx, report_id)

    def _report(self, tx: Tx, report_id: str) -> Report:
        row = tx.one("SELECT * FROM reports WHERE id = ?", (report_id,))
        if row is None:
            raise NotFound(f"no report with id {report_id!r}")
        return report_from_row(row)

    def reports(
        self, *, status: ReportStatus | None = None, shop_id: str | None = None, limit: int = 100
    ) -> list[Report]:
        rows = self._read(
            "SELECT * FROM reports WHERE (CAST(? AS TEXT) IS NULL OR status = ?) "
            "AND (CAST(? AS TEXT) IS NULL OR shop_id = ?) ORDER BY created_at DESC, id LIMIT ?",
            (status, status, shop_id, shop_id, limit),
        )
        return [report_from_row(r) for r in rows]

    def get_report(self, report_id: str) -> Report | None:
        rows = self._read("SELECT * FROM reports WHERE id = ?", (report_id,))
        return report_from_row(rows[0]) if rows else None

    def close_report(self, report_id: str, *, actor: str, resolution: str) -> Report:
        resolution = rules.clean_text(resolution, "resolution", limit=rules.MAX_REASON)
        with self._write() as tx:
            found = tx.one(
                "SELECT status FROM reports WHERE id = ?" + self.FOR_UPDATE,  # noqa: S608
                (report_id,),
            )
            if found is None:
                raise NotFound(f"no report with id {report_id!r}")
            if found["status"] == "closed":
                raise Conflict(f"report {report_id} is already closed")
            tx.run(
                "UPDATE reports SET status = 'closed', closed_at = ?, closed_by = ?, "
                "resolution = ? WHERE id = ?",
                (_now(), actor, resolution, report_id),
            )
            return self._report(tx, report_id)

    # Admin API tokens

    def add_token(self, name: str, digest: str) -> None:
        try:
            with self._write() as tx:
                tx.run(
                    "INSERT INTO api_tokens (name, digest, created_at) VALUES (?,?,?)",
                    (name, digest, _now()),
                )
        except self.DUPLICATE:
            raise Conflict(f"a token named {name!r} already exists") from None

    def token_digests(self) -> list[tuple[str, str]]:
        return [(r["name"], r["digest"]) for r in self._read("SELECT name, digest FROM api_tokens")]
