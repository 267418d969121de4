"""The narrow interface every registry backend implements (SQLite and PostgreSQL, both on
store.SQLRegistry). Callers and test doubles depend on this, not on a backend.

Methods are synchronous; async callers run them in a worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, Unpack

from badge.registry.model import (
    Event,
    NewReport,
    NewShop,
    Report,
    ReportStatus,
    Shop,
    ShopEdit,
    Sighting,
    State,
)
from badge.sightings import Batch


class Registry(Protocol):
    def create_shop(self, shop: NewShop, *, actor: str) -> Shop: ...

    def import_shops(
        self,
        shops: Sequence[NewShop],
        *,
        actor: str,
        progress: Callable[[int], None] | None = None,
    ) -> list[Shop]: ...

    def get_shop(self, shop_id: str) -> Shop | None: ...

    def list_shops(self, *, limit: int = 1000, offset: int = 0) -> list[Shop]: ...

    def count_shops(self) -> int: ...

    def update_shop(
        self, shop_id: str, *, actor: str, reason: str | None, **edit: Unpack[ShopEdit]
    ) -> Shop: ...

    def set_state(self, shop_id: str, state: State, *, reason: str, actor: str) -> Event: ...

    def history(self, shop_id: str) -> list[Event]: ...

    def find_by_domain(self, domain: str) -> Shop | None: ...

    def search(self, query: str, *, limit: int = 20) -> list[Shop]: ...

    def change_cursor(self) -> int: ...

    def changes_since(self, cursor: int) -> tuple[int, list[str]]: ...

    def record_sightings(self, batch: Batch) -> None: ...

    def sightings(
        self, *, shop_id: str | None = None, unregistered_only: bool = False
    ) -> list[Sighting]: ...

    def add_report(self, report: NewReport) -> Report: ...

    def reports(
        self, *, status: ReportStatus | None = None, shop_id: str | None = None, limit: int = 100
    ) -> list[Report]: ...

    def get_report(self, report_id: str) -> Report | None: ...

    def close_report(self, report_id: str, *, actor: str, resolution: str) -> Report: ...

    def add_token(self, name: str, digest: str) -> None: ...

    def token_digests(self) -> list[tuple[str, str]]: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...
