"""Caching and freshness: the entries this process serves from memory, and how long.

An entry is served while it is not due for re-signing and the change feed (registry
polling or the Redis bus) confirmed "no news" within BADGE_STALE_LIMIT seconds. A change
drops the shop's entry here (and at the edge, through `purge`); the next request loads it
again, once, however many requests arrive meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

from badge.platform.caches import BoundedCache, CacheSet
from badge.serving.entries import Entry
from badge.settings import Settings

UNKNOWN_CACHE_SIZE: Final = 10_000

Fetch = Callable[[str, Entry | None], Awaitable[Entry]]


class EntryCache:
    def __init__(
        self,
        settings: Settings,
        clock: Callable[[], float],
        caches: CacheSet,
        purge: Callable[[str], None] | None = None,
    ) -> None:
        self.stale_limit = settings.stale_limit
        self.clock = clock
        # Called with each shop this process stops serving from memory (badge.platform.purge).
        self.purge = purge
        self.entries: dict[str, Entry] = {}
        # Ids the registry does not know.
        self.unknown: BoundedCache[str, bool] = caches.new("unknown_shops", UNKNOWN_CACHE_SIZE)
        # Entries dropped by an invalidation, kept to reuse their token if nothing changed.
        self.previous: dict[str, Entry] = {}
        # The change feed confirmed "no news" at this time.
        self.fresh_at = clock()
        self._inflight: dict[str, asyncio.Future[Entry]] = {}
        # Counts invalidations: work begun before one must not be stored after it.
        self.generation = 0

    def is_fresh(self, now: float) -> bool:
        return now - self.fresh_at <= self.stale_limit

    def usable(self, entry: Entry | None, now: float) -> bool:
        """Not due for re-signing, and confirmed by the change feed within the stale bound."""
        return entry is not None and now < entry.refresh_at and self.is_fresh(now)

    def is_unknown(self, shop_id: str) -> bool:
        """The registry said lately that it has no such shop."""
        return self.unknown.get(shop_id) is not None

    def mark_fresh(self) -> None:
        self.fresh_at = self.clock()

    def invalidate(self, shop_id: str) -> Entry | None:
        """Drop a shop; returns the entry dropped, if there was one."""
        self.generation += 1
        entry = self.entries.pop(shop_id, None)
        if entry is not None:
            self.previous[shop_id] = entry
        self.unknown.pop(shop_id)
        # A load in flight may have read the old state: it must not be stored or joined.
        self._inflight.pop(shop_id, None)
        # Only after our own copy is gone: an edge refetching from us gets the new state.
        if self.purge is not None:
            self.purge(shop_id)
        return entry

    def invalidate_all(self) -> None:
        self.generation += 1
        self.previous.update(self.entries)
        self.entries.clear()
        self.unknown.clear()
        self._inflight.clear()

    async def load(self, shop_id: str, fetch: Fetch) -> Entry:
        """Memory missed: one `fetch` per shop at a time; the others wait for its result."""
        pending = self._inflight.get(shop_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Entry] = asyncio.get_running_loop().create_future()
        self._inflight[shop_id] = future
        previous = self.previous.pop(shop_id, None)
        try:
            entry = await fetch(shop_id, previous)
            if self._inflight.get(shop_id) is future:
                self._keep(shop_id, entry)
            # else: invalidated meanwhile; answer this request, remember nothing.
            future.set_result(entry)
            return entry
        except BaseException as exc:
            if previous is not None:
                self.previous.setdefault(shop_id, previous)  # for the next try
            future.set_exception(exc)
            future.exception()  # consumed here so an unawaited future does not warn
            raise
        finally:
            if self._inflight.get(shop_id) is future:
                del self._inflight[shop_id]

    def _keep(self, shop_id: str, entry: Entry) -> None:
        if entry.shop is None:
            self.unknown.put(shop_id, True)
        else:
            self.entries[shop_id] = entry
