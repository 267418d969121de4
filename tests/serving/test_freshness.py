"""badge.serving.freshness: which entries are served from memory, for how long, and one
load per shop at a time."""

from __future__ import annotations

import anyio
import pytest

from badge.platform.caches import CacheSet
from badge.registry.model import Shop
from badge.serving import binding
from badge.serving.entries import UNKNOWN, Entry
from badge.serving.freshness import EntryCache
from badge.serving.query import BadgeQuery
from badge.serving.responses import build_response
from badge.settings import Settings
from tests.serving.test_variants import SHOP

SHOP_ID = SHOP.id


class Loads:
    """The fetch an EntryCache is given: counts calls, can be held open or fail."""

    def __init__(self, shop: Shop | None = SHOP, refresh_in: float = 100.0) -> None:
        self.shop = shop
        self.refresh_in = refresh_in
        self.calls: list[tuple[str, Entry | None]] = []
        self.gate: anyio.Event | None = None
        self.fail: BaseException | None = None
        self.now = [1000.0]

    async def __call__(self, shop_id: str, previous: Entry | None) -> Entry:
        self.calls.append((shop_id, previous))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        if self.shop is None:
            return UNKNOWN
        return Entry(
            shop=self.shop,
            state="certified",
            token="t",
            refresh_at=self.now[0] + self.refresh_in,
            domains=frozenset(self.shop.domains),
            sites=frozenset(self.shop.domains),
            certified=True,
        )


def make(settings: Settings, loads: Loads, purged: list[str] | None = None) -> EntryCache:
    purge = None if purged is None else purged.append
    return EntryCache(settings, lambda: loads.now[0], CacheSet(), loads, purge)


def test_an_entry_is_loaded_once_and_then_served_from_memory(settings: Settings) -> None:
    loads = Loads()
    cache = make(settings, loads)

    async def run() -> None:
        first = await cache.entry(SHOP_ID)
        assert await cache.entry(SHOP_ID) is first
        assert cache.fresh(SHOP_ID) is first and cache.current(SHOP_ID) is first

    anyio.run(run)
    assert len(loads.calls) == 1
    assert cache.stats().shops == 1


def test_concurrent_misses_share_one_load(settings: Settings) -> None:
    loads = Loads()
    loads.gate = anyio.Event()
    cache = make(settings, loads)
    got: list[Entry] = []

    async def ask() -> None:
        got.append(await cache.entry(SHOP_ID))

    async def run() -> None:
        async with anyio.create_task_group() as tasks:
            for _ in range(5):
                tasks.start_soon(ask)
            await anyio.sleep(0.01)
            assert loads.gate is not None
            loads.gate.set()

    anyio.run(run)
    assert len(loads.calls) == 1
    assert len(got) == 5 and all(entry is got[0] for entry in got)


def test_an_entry_is_not_trusted_past_the_stale_limit_or_its_refresh(settings: Settings) -> None:
    loads = Loads(refresh_in=settings.stale_limit * 10)
    cache = make(settings, loads)
    anyio.run(cache.entry, SHOP_ID)
    loads.now[0] += settings.stale_limit + 1  # no word from the change feed since
    assert cache.fresh(SHOP_ID) is None
    assert cache.stats().fresh is False
    cache.mark_fresh()
    assert cache.fresh(SHOP_ID) is not None
    loads.now[0] += settings.stale_limit * 10  # due for re-signing
    cache.mark_fresh()
    assert cache.fresh(SHOP_ID) is None
    assert cache.current(SHOP_ID) is not None  # still held, for sightings and warm-up


def test_invalidation_drops_purges_and_hands_the_old_entry_to_the_next_load(
    settings: Settings,
) -> None:
    loads = Loads()
    purged: list[str] = []
    cache = make(settings, loads, purged)
    old = anyio.run(cache.entry, SHOP_ID)
    before = cache.stats().generation
    assert cache.invalidate(SHOP_ID) is old
    assert cache.current(SHOP_ID) is None and purged == [SHOP_ID]
    assert cache.stats().generation == before + 1
    anyio.run(cache.entry, SHOP_ID)
    assert loads.calls[-1] == (SHOP_ID, old)  # to reuse its token if nothing changed


def test_a_load_overtaken_by_an_invalidation_is_answered_not_kept(settings: Settings) -> None:
    loads = Loads()
    loads.gate = anyio.Event()
    cache = make(settings, loads)

    async def run() -> Entry:
        async with anyio.create_task_group() as tasks:
            result: list[Entry] = []

            async def ask() -> None:
                result.append(await cache.entry(SHOP_ID))

            tasks.start_soon(ask)
            await anyio.sleep(0.01)
            cache.invalidate(SHOP_ID)  # the load in flight may have read the old state
            assert loads.gate is not None
            loads.gate.set()
        return result[0]

    answered = anyio.run(run)
    assert answered.shop == SHOP
    assert cache.current(SHOP_ID) is None


def test_a_failed_load_keeps_nothing_and_raises(settings: Settings) -> None:
    loads = Loads()
    loads.fail = TimeoutError()
    cache = make(settings, loads)
    with pytest.raises(TimeoutError):
        anyio.run(cache.entry, SHOP_ID)
    assert cache.current(SHOP_ID) is None
    loads.fail = None
    assert anyio.run(cache.entry, SHOP_ID).shop == SHOP


def test_unknown_ids_are_remembered_and_malformed_ones_never_loaded(settings: Settings) -> None:
    loads = Loads(shop=None)
    cache = make(settings, loads)
    assert anyio.run(cache.entry, "not an id") is UNKNOWN
    assert loads.calls == []
    assert anyio.run(cache.entry, SHOP_ID) is UNKNOWN
    assert anyio.run(cache.entry, SHOP_ID) is UNKNOWN
    assert len(loads.calls) == 1  # the second answer came from memory
    cache.invalidate(SHOP_ID)  # a shop registered under that id since
    anyio.run(cache.entry, SHOP_ID)
    assert len(loads.calls) == 2


def test_lookup_finds_a_variant_names_a_missing_one_and_refuses_a_stale_entry(
    settings: Settings,
) -> None:
    loads = Loads()
    cache = make(settings, loads)
    now = loads.now[0]
    assert cache.lookup(SHOP_ID, "svg", BadgeQuery("nl"), None, now) is None  # not loaded
    entry = anyio.run(cache.entry, SHOP_ID)
    key = (SHOP_ID, "svg", "nl", "m", 1, "bakkerij-test.be")
    assert cache.lookup(SHOP_ID, "svg", BadgeQuery("nl"), "bakkerij-test.be", now) == key
    rendered = build_response(200, b"<svg/>", "svg", b"no-store")
    entry.add_variant(key, rendered)  # type: ignore[arg-type]
    assert cache.lookup(SHOP_ID, "svg", BadgeQuery("nl"), "bakkerij-test.be", now) is rendered
    # Another page gets its own variant, decided by binding.
    other = cache.lookup(SHOP_ID, "svg", BadgeQuery("nl"), "copy.example", now)
    assert other == (SHOP_ID, "svg", "nl", "m", 1, binding.MISMATCH)
    later = now + settings.stale_limit + 1
    assert cache.lookup(SHOP_ID, "svg", BadgeQuery("nl"), "bakkerij-test.be", later) is None


def test_invalidate_all_returns_what_it_dropped_and_reports_the_bus(settings: Settings) -> None:
    loads = Loads()
    cache = make(settings, loads)
    entry = anyio.run(cache.entry, SHOP_ID)
    assert cache.invalidate_all() == [entry]
    assert cache.stats().shops == 0
    assert cache.stats().bus_status == "off"
    cache.set_bus_status("subscribed")
    assert cache.stats().bus_status == "subscribed"
