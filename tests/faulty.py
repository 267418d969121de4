"""The real SQLite registry with a fault switched in: an outage, or a bug."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any, cast

from badge.registry.model import Shop
from badge.registry.sqlite import SQLiteRegistry


class FlakyRegistry:
    """The real registry, with a switch to make it fail or hang like a dead database."""

    def __init__(self, inner: SQLiteRegistry) -> None:
        self.inner = inner
        self.down = False
        self.hang: threading.Event | None = None

    def get_shop(self, shop_id: str) -> Shop | None:
        if self.hang is not None:
            self.hang.wait(timeout=4)
        if self.down:
            raise sqlite3.OperationalError("unable to open database file")
        return self.inner.get_shop(shop_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class BrokenRegistry(FlakyRegistry):
    """The real registry with a bug in reading a shop, and one in searching: not an outage."""

    def get_shop(self, shop_id: str) -> Shop | None:
        row: dict[str, str] = {}
        return cast(Shop, row["display_name"])  # the bug: a KeyError

    def search(self, query: str, *, limit: int = 20) -> list[Shop]:
        found = self.inner.search(query, limit=limit)
        return sorted(found, key=lambda shop: shop.name)  # type: ignore[attr-defined]  # the bug
