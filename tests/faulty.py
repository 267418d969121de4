"""The real SQLite registry with a fault switched in: an outage, or a bug."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any, cast

import pytest

from badge.registry.model import Shop
from badge.registry.sqlite import SQLiteRegistry
from badge.serving.service import BadgeService
from badge.settings import Settings
from badge.signing import KeyStore


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


def outage_and_bug(
    settings: Settings, registry: SQLiteRegistry, keys_dir: Path
) -> tuple[BadgeService, BadgeService]:
    """Two badge services on the real registry: one while it is down, one with a bug in it."""
    keys = KeyStore(keys_dir, token_ttl=settings.token_ttl)
    keys.ensure()
    down = FlakyRegistry(registry)
    down.down = True
    broken = BrokenRegistry(registry)
    return BadgeService(settings, down, keys), BadgeService(settings, broken, keys)  # type: ignore[arg-type]


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What was logged with a traceback: bugs, never outages."""
    return [record for record in caplog.records if record.exc_info is not None]
