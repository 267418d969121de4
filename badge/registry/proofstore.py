"""The registry's domain ownership proofs, for both SQL backends (a part of store.SQLRegistry).

Every check and attestation is one write transaction: the proof row, an event in the
shop's append-only history, and (when what badges say changes) the change feed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from badge.errors import NotFound
from badge.registry import proofs, rules
from badge.registry.model import (
    PROOF_STATES,
    DomainProof,
    DomainStatus,
    Event,
    ProofState,
    Shop,
    proof_from_row,
)

if TYPE_CHECKING:
    from badge.registry.store import Tx

MAX_CLAIM: Final = 200


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class ProofStore(ABC):
    """Proof rows, kept in step with each shop's domains."""

    @abstractmethod
    def _write(self) -> AbstractContextManager[Tx]: ...

    @abstractmethod
    def _read(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, Any]]: ...

    @abstractmethod
    def _load(self, tx: Tx, shop_id: str, *, lock: bool = False) -> Shop: ...

    @abstractmethod
    def _append_event(self, tx: Tx, event: Event) -> int: ...

    @abstractmethod
    def _note_changes(self, tx: Tx, shop_ids: Sequence[str]) -> None: ...

    def _sync_proofs(self, tx: Tx, shop_id: str, domains: Sequence[str]) -> None:
        """A new domain starts `pending` with its own challenge, due for a check at once;
        a removed one loses its proof, so adding it again means proving it again."""
        rows = tx.rows("SELECT domain FROM domain_proofs WHERE shop_id = ?", (shop_id,))
        have = {r["domain"] for r in rows}
        tx.run_many(
            "DELETE FROM domain_proofs WHERE shop_id = ? AND domain = ?",
            [(shop_id, d) for d in sorted(have - set(domains))],
        )
        now = _now()
        tx.run_many(
            "INSERT INTO domain_proofs (shop_id, domain, token, state, next_check_at) "
            "VALUES (?,?,?,'pending',?)",
            [(shop_id, d, proofs.new_token(), now) for d in domains if d not in have],
        )

    def domain_proofs(self, shop_id: str | None = None) -> list[DomainProof]:
        """Every proof, or one shop's, in the order of the shops' domains."""
        rows = self._read(
            "SELECT p.* FROM domain_proofs p JOIN shop_domains d "
            "ON d.shop_id = p.shop_id AND d.domain = p.domain "
            "WHERE (CAST(? AS TEXT) IS NULL OR p.shop_id = ?) ORDER BY p.shop_id, d.position",
            (shop_id, shop_id),
        )
        return [proof_from_row(r) for r in rows]

    def domain_proof(self, shop_id: str, domain: str) -> DomainProof:
        """One proof; NotFound names what is missing, the shop or its domain."""
        normalised = rules.try_normalise_domain(domain) or domain
        rows = self._read(
            "SELECT * FROM domain_proofs WHERE shop_id = ? AND domain = ?", (shop_id, normalised)
        )
        if not rows:
            if not self._read("SELECT id FROM shops WHERE id = ?", (shop_id,)):
                raise NotFound(f"no shop with id {shop_id}")
            raise NotFound(f"{domain} is not a registered domain of shop {shop_id}")
        return proof_from_row(rows[0])

    def proof_counts(self) -> dict[ProofState, int]:
        rows = self._read("SELECT state, count(*) AS n FROM domain_proofs GROUP BY state")
        counts: dict[ProofState, int] = dict.fromkeys(PROOF_STATES, 0)
        for row in rows:
            if row["state"] in counts:
                counts[row["state"]] = int(row["n"])
        return counts

    def claim_due_checks(self, *, limit: int = MAX_CLAIM) -> list[tuple[str, str]]:
        """Domains due for a check, each taken for CHECK_LEASE so that instances sharing
        the registry never check the same domain at once."""
        now = _now()
        with self._write() as tx:
            tx.lock("proofs")
            due = tx.rows(
                "SELECT shop_id, domain FROM domain_proofs WHERE next_check_at <= ? "
                "ORDER BY next_check_at, shop_id, domain LIMIT ?",
                (now, min(limit, MAX_CLAIM)),
            )
            taken = [(r["shop_id"], r["domain"]) for r in due]
            tx.run_many(
                "UPDATE domain_proofs SET next_check_at = ? WHERE shop_id = ? AND domain = ?",
                [(now + proofs.CHECK_LEASE, *pair) for pair in taken],
            )
        return taken

    def record_check(
        self,
        shop_id: str,
        domain: str,
        outcome: proofs.Outcome,
        *,
        actor: str,
        interval: timedelta,
        grace: timedelta,
    ) -> tuple[DomainProof, DomainStatus]:
        """Store one check's outcome and its history event; the proof after, and before."""
        with self._write() as tx:
            shop, row = self._proof_for_update(tx, shop_id, domain)
            now = _now()
            before = row.status
            after = proofs.after_check(before, outcome, now)
            tx.run(
                "UPDATE domain_proofs SET state = ?, method = ?, since = ?, attestation = ?, "
                "checked_at = ?, result = ?, ad = ?, next_check_at = ? "
                "WHERE shop_id = ? AND domain = ?",
                (
                    after.state,
                    after.method,
                    after.since,
                    after.note,
                    now,
                    outcome.detail,
                    outcome.ad,
                    proofs.next_check(after, now, interval, grace),
                    shop_id,
                    row.domain,
                ),
            )
            change: dict[str, object] = {
                "domain": row.domain,
                "from": proofs.shown(before),
                "to": proofs.shown(after),
                "check": "proven" if outcome.proven else "failed",
                "method": outcome.method,
                "detail": outcome.detail,
            }
            if outcome.ad is not None:
                change["ad"] = outcome.ad
            reason = f"ownership check of {row.domain}: {outcome.detail}"
            self._proof_event(tx, shop, now, actor, reason, change)
            if after != before or proofs.grace_ended(after, row.checked_at, now, grace):
                self._note_changes(tx, [shop_id])
            return self._proof_row(tx, shop_id, row.domain), before

    def attest_domain(
        self, shop_id: str, domain: str, *, actor: str, reason: str
    ) -> tuple[DomainProof, DomainStatus]:
        """An operator's audited attestation that the shop owns the domain."""
        reason = rules.clean_text(reason, "reason", limit=rules.MAX_REASON)
        with self._write() as tx:
            shop, row = self._proof_for_update(tx, shop_id, domain)
            now = _now()
            after = proofs.attested(row.status, now, reason)
            tx.run(
                "UPDATE domain_proofs SET state = ?, method = ?, since = ?, attested_by = ?, "
                "attestation = ? WHERE shop_id = ? AND domain = ?",
                (after.state, after.method, after.since, actor, reason, shop_id, row.domain),
            )
            change: dict[str, object] = {
                "domain": row.domain,
                "from": proofs.shown(row.status),
                "to": proofs.shown(after),
                "method": "attested",
            }
            self._proof_event(tx, shop, now, actor, reason, change)
            self._note_changes(tx, [shop_id])
            return self._proof_row(tx, shop_id, row.domain), row.status

    def _proof_for_update(self, tx: Tx, shop_id: str, domain: str) -> tuple[Shop, DomainProof]:
        # The shop's row lock serialises this with its other changes (PostgreSQL).
        shop = self._load(tx, shop_id, lock=True)
        normalised = rules.try_normalise_domain(domain) or domain
        if normalised not in shop.domains:
            raise NotFound(f"{domain} is not a registered domain of shop {shop_id}")
        return shop, self._proof_row(tx, shop_id, normalised)

    def _proof_row(self, tx: Tx, shop_id: str, domain: str) -> DomainProof:
        row = tx.one(
            "SELECT * FROM domain_proofs WHERE shop_id = ? AND domain = ?", (shop_id, domain)
        )
        if row is None:
            raise NotFound(f"{domain} is not a registered domain of shop {shop_id}")
        return proof_from_row(row)

    def _proof_event(
        self, tx: Tx, shop: Shop, now: datetime, actor: str, reason: str, change: dict[str, object]
    ) -> None:
        # The Keurmerk state does not change: from and to are the shop's state, as for edits.
        event = Event(
            0, shop.id, now, actor, shop.state, shop.state, reason, {"domain_proof": change}
        )
        self._append_event(tx, event)
