"""badge.platform.feed: the change feed and the sightings flush outlive an outage and a bug,
and tell the two apart (an outage is one line; a bug is a traceback and a count)."""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

import anyio
import pytest

from badge.platform import feed
from badge.registry.model import Shop
from badge.registry.sqlite import SQLiteRegistry
from badge.serving.hotpath import HotPathStats
from badge.serving.service import BadgeService
from badge.settings import Settings
from badge.signing import KeyStore
from tests.faulty import tracebacks

OUTAGE = sqlite3.OperationalError("unable to open database file")


class FaultyFeed:
    """The real registry, with its change feed and sightings write switched to a fault."""

    def __init__(self, inner: SQLiteRegistry) -> None:
        self.inner = inner
        self.fault: Exception | None = None

    def changes_since(self, cursor: int) -> tuple[int, list[str]]:
        if self.fault is not None:
            raise self.fault
        return self.inner.changes_since(cursor)

    def record_sightings(self, batch: Any) -> None:
        if self.fault is not None:
            raise self.fault
        self.inner.record_sightings(batch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def parts(
    settings: Settings, registry: SQLiteRegistry
) -> tuple[FaultyFeed, KeyStore, BadgeService]:
    keys = KeyStore(settings.keys_dir, token_ttl=settings.token_ttl)
    keys.ensure()
    faulty = FaultyFeed(registry)
    return faulty, keys, BadgeService(settings, faulty, keys)


def follow(settings: Settings, faulty: FaultyFeed, keys: KeyStore, badges: BadgeService) -> None:
    """The feed for 0.6 s of 0.05 s polls, with the fault mended after 0.3 s."""

    async def main() -> None:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(feed.poll_registry, settings, faulty, keys, badges)
            await anyio.sleep(0.3)
            faulty.fault = None
            await anyio.sleep(0.3)
            tasks.cancel_scope.cancel()

    anyio.run(main)


def test_a_feed_outage_is_one_line_and_no_bug(
    settings: Settings, registry: SQLiteRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    faulty, keys, badges = parts(settings, registry)
    faulty.fault = OUTAGE
    with caplog.at_level(logging.INFO, logger="badge"):
        follow(settings, faulty, keys, badges)
    said = [record.getMessage() for record in caplog.records]
    assert said.count("registry change feed failing: OperationalError") == 1
    assert said.count("registry change feed recovered") == 1
    assert tracebacks(caplog) == []
    assert badges.stats().internal_errors == 0


def test_a_feed_bug_is_logged_with_its_traceback_and_counted(
    settings: Settings, registry: SQLiteRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    faulty, keys, badges = parts(settings, registry)
    faulty.fault = KeyError("cursor")
    with caplog.at_level(logging.INFO, logger="badge"):
        follow(settings, faulty, keys, badges)
    # Once a streak, however many polls failed: a log line a second would drown the rest.
    [logged] = tracebacks(caplog)
    assert logged.exc_info is not None and logged.exc_info[0] is KeyError
    assert badges.stats().internal_errors == 1
    assert "registry change feed recovered" in [r.getMessage() for r in caplog.records]


def flush_with(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    registry: SQLiteRegistry,
    shop: Shop,
    fault: Exception,
) -> tuple[BadgeService, HotPathStats]:
    monkeypatch.setattr(feed, "SIGHTINGS_INTERVAL", 0.05)
    faulty, _, badges = parts(settings, registry)
    faulty.fault = fault
    stats = HotPathStats()
    stats.sightings.add((shop.id, b"www.bakkerij-test.be", None), 3)

    async def main() -> None:
        with anyio.move_on_after(0.3):
            await feed.flush_sightings(faulty, badges, stats)

    anyio.run(main)
    assert stats.sightings_dropped["write_failed"] == 1
    return badges, stats


@pytest.mark.parametrize(
    ("fault", "bug"), [pytest.param(OUTAGE, False, id="outage"), (TypeError("batch"), True)]
)
def test_a_failed_sightings_write_drops_its_hosts_and_only_a_bug_is_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    registry: SQLiteRegistry,
    shop: Shop,
    caplog: pytest.LogCaptureFixture,
    fault: Exception,
    bug: bool,
) -> None:
    with caplog.at_level(logging.INFO, logger="badge"):
        badges, _ = flush_with(monkeypatch, settings, registry, shop, fault)
    logged = tracebacks(caplog)
    assert badges.stats().internal_errors == (1 if bug else 0)
    if bug:
        assert [record.exc_info[0] for record in logged if record.exc_info] == [TypeError]
    else:
        said = [record.getMessage() for record in caplog.records]
        assert "could not record badge sightings: OperationalError" in said
        assert logged == []
