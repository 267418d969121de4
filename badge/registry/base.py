"""The narrow interface every registry backend implements (SQLite and PostgreSQL, both on
store.SQLRegistry). Callers and test doubles depend on this, not on a backend.

Methods are synchronous; async callers run them in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Protocol, Unpack

from badge.registry import model
from badge.registry.calls import CallStats
from badge.registry.proofs import Outcome
from badge.serving.sightings import Batch
from badge.vocabulary import State


class Registry(Protocol):
    # Latency and failures of its transactions, for /metrics.
    call_stats: CallStats

    def create_shop(self, shop: model.NewShop, *, actor: str) -> model.Shop: ...

    def import_shops(
        self,
        shops: Sequence[model.NewShop],
        *,
        actor: str,
        progress: Callable[[int], None] | None = None,
    ) -> list[model.Shop]: ...

    def get_shop(self, shop_id: str) -> model.Shop | None: ...

    def list_shops(self, *, limit: int = 1000, offset: int = 0) -> list[model.Shop]: ...

    def count_shops(self) -> int: ...

    def update_shop(
        self, shop_id: str, *, actor: str, reason: str | None, **edit: Unpack[model.ShopEdit]
    ) -> model.Shop: ...

    def set_state(self, shop_id: str, state: State, *, reason: str, actor: str) -> model.Event: ...

    def history(self, shop_id: str) -> list[model.Event]: ...

    def find_by_domain(self, domain: str) -> model.Shop | None: ...

    def search(self, query: str, *, limit: int = 20) -> list[model.Shop]: ...

    def change_cursor(self) -> int: ...

    def changes_since(self, cursor: int) -> tuple[int, list[str]]: ...

    def record_sightings(self, batch: Batch) -> None: ...

    def sightings(
        self, *, shop_id: str | None = None, unregistered_only: bool = False
    ) -> list[model.Sighting]: ...

    def add_report(self, report: model.NewReport) -> model.Report: ...

    def reports(
        self,
        *,
        status: model.ReportStatus | None = None,
        shop_id: str | None = None,
        limit: int = 100,
    ) -> list[model.Report]: ...

    def get_report(self, report_id: str) -> model.Report | None: ...

    def close_report(self, report_id: str, *, actor: str, resolution: str) -> model.Report: ...

    def domain_proofs(self, shop_id: str | None = None) -> list[model.DomainProof]: ...

    def domain_proof(self, shop_id: str, domain: str) -> model.DomainProof: ...

    def proof_counts(self) -> dict[model.ProofState, int]: ...

    def claim_due_checks(self, *, limit: int = ...) -> list[tuple[str, str]]: ...

    def record_check(
        self,
        shop_id: str,
        domain: str,
        outcome: Outcome,
        *,
        actor: str,
        interval: timedelta,
        grace: timedelta,
    ) -> tuple[model.DomainProof, model.DomainStatus]: ...

    def attest_domain(
        self, shop_id: str, domain: str, *, actor: str, reason: str
    ) -> tuple[model.DomainProof, model.DomainStatus]: ...

    def add_token(self, name: str, digest: str) -> None: ...

    def token_digests(self) -> list[tuple[str, str]]: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...
