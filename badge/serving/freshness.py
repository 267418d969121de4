"""Caching and freshness: the entries this process serves from memory, and how long.

An entry is served while it is not due for re-signing and the change feed (registry
polling or the Redis bus) confirmed "no news" within BADGE_STALE_LIMIT seconds. A change
drops the shop's entry here (and at the edge, through `purge`); the next request loads it
again, once, however many requests arrive meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from badge.platform.caches import BoundedCache, CacheSet
from badge.registry import rules
from badge.serving import binding
from badge.serving.entries import UNKNOWN, Entry
from badge.serving.query import BadgeQuery
from badge.serving.responses import Rendered
from badge.serving.variants import VariantKey
from badge.settings import Settings
from badge.vocabulary import Format

UNKNOWN_CACHE_SIZE: Final = 10_000

Fetch = Callable[[str, Entry | None], Awaitable[Entry]]


@dataclass(frozen=True, slots=True)
class EntryStats:
    shops: int
    # Counts invalidations: work begun before one must not be stored after it.
    generation: int
    feed_age: float
    fresh: bool
    bus_status: str


class EntryCache:
    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], float],
        caches: CacheSet,
        fetch: Fetch,
        purge: Callable[[str], None] | None = None,
    ) -> None:
        self.stale_limit = settings.stale_limit
        self.clock = clock
        # Loads one shop (entries.EntryLoader.fetch), given the entry an invalidation dropped.
        self._fetch = fetch
        # Called with each shop this process stops serving from memory (badge.platform.purge).
        self._purge = purge
        self._entries: dict[str, Entry] = {}
        # Ids the registry does not know.
        self._unknown: BoundedCache[str, bool] = caches.new("unknown_shops", UNKNOWN_CACHE_SIZE)
        # Entries dropped by an invalidation, kept to reuse their token if nothing changed.
        self._previous: dict[str, Entry] = {}
        # The change feed confirmed "no news" at this time.
        self._fresh_at = clock()
        self._inflight: dict[str, asyncio.Future[Entry]] = {}
        self._generation = 0
        # The Redis bus: "off", "subscribed" or "down" (badge.platform.bus).
        self._bus_status = "off"

    def stats(self) -> EntryStats:
        now = self.clock()
        return EntryStats(
            shops=len(self._entries),
            generation=self._generation,
            feed_age=now - self._fresh_at,
            fresh=self._is_fresh(now),
            bus_status=self._bus_status,
        )

    def lookup(
        self, shop_id: str, fmt: Format, query: BadgeQuery, referer_class: str | None, now: float
    ) -> Rendered | VariantKey | None:
        """The hot path's lookup, no I/O: the variant, or its key when the entry is usable
        but the variant not drawn yet, or None when the entry must be loaded first.

        `referer_class` is the Referer's class (binding.classify_referer). `usable` and
        `query.scale_for` are written out inline: a method call is a measurable share of a
        request."""
        entry = self._entries.get(shop_id)
        if entry is None or now >= entry.refresh_at or now - self._fresh_at > self.stale_limit:
            return None
        site = binding.decide(entry.certified, entry.sites, referer_class, query.site)
        scale = query.scale if fmt == "png" else 1
        key = (shop_id, fmt, query.lang, query.size, scale, site)
        return entry.variants.get(key) or key

    def serves(self, shop_id: str, entry: Entry | None, now: float) -> bool:
        """Whether `entry` is still the shop's entry, and usable now: what the hot path asks
        before it reuses an answer made from it (`_usable`, inline as in `lookup`)."""
        return (
            entry is not None
            and self._entries.get(shop_id) is entry
            and now < entry.refresh_at
            and now - self._fresh_at <= self.stale_limit
        )

    def current(self, shop_id: str) -> Entry | None:
        """The entry held for the shop, however old."""
        return self._entries.get(shop_id)

    def fresh(self, shop_id: str) -> Entry | None:
        """The shop's entry if it may be served now without asking anyone; no I/O."""
        entry = self._entries.get(shop_id)
        return entry if self._usable(entry, self.clock()) else None

    async def entry(self, shop_id: str) -> Entry:
        """The live state for badges, pages and APIs, loaded at most once per shop at a time."""
        if not rules.is_shop_id(shop_id) or self._unknown.get(shop_id) is not None:
            return UNKNOWN
        entry = self.fresh(shop_id)
        return entry if entry is not None else await self._load(shop_id)

    def _is_fresh(self, now: float) -> bool:
        return now - self._fresh_at <= self.stale_limit

    def _usable(self, entry: Entry | None, now: float) -> bool:
        """Not due for re-signing, and confirmed by the change feed within the stale bound."""
        return entry is not None and now < entry.refresh_at and self._is_fresh(now)

    def mark_fresh(self) -> None:
        self._fresh_at = self.clock()

    def set_bus_status(self, status: str) -> None:
        self._bus_status = status

    def invalidate(self, shop_id: str) -> Entry | None:
        """Drop a shop; returns the entry dropped, if there was one."""
        self._generation += 1
        entry = self._entries.pop(shop_id, None)
        if entry is not None:
            self._previous[shop_id] = entry
        self._unknown.pop(shop_id)
        # A load in flight may have read the old state: it must not be stored or joined.
        self._inflight.pop(shop_id, None)
        # Only after our own copy is gone: an edge refetching from us gets the new state.
        if self._purge is not None:
            self._purge(shop_id)
        return entry

    def invalidate_all(self) -> list[Entry]:
        """Drop every shop; returns the entries dropped."""
        self._generation += 1
        dropped = list(self._entries.values())
        self._previous.update(self._entries)
        self._entries.clear()
        self._unknown.clear()
        self._inflight.clear()
        return dropped

    async def _load(self, shop_id: str) -> Entry:
        """Memory missed: one fetch per shop at a time; the others wait for its result."""
        pending = self._inflight.get(shop_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Entry] = asyncio.get_running_loop().create_future()
        self._inflight[shop_id] = future
        previous = self._previous.pop(shop_id, None)
        try:
            entry = await self._fetch(shop_id, previous)
            if self._inflight.get(shop_id) is future:
                self._keep(shop_id, entry)
            # else: invalidated meanwhile; answer this request, remember nothing.
            future.set_result(entry)
            return entry
        except BaseException as exc:
            if previous is not None:
                self._previous.setdefault(shop_id, previous)  # for the next try
            future.set_exception(exc)
            future.exception()  # consumed here so an unawaited future does not warn
            raise
        finally:
            if self._inflight.get(shop_id) is future:
                del self._inflight[shop_id]

    def _keep(self, shop_id: str, entry: Entry) -> None:
        if entry.shop is None:
            self._unknown.put(shop_id, True)
        else:
            self._entries[shop_id] = entry
