"""Bounded caches: one rule for everything this process keeps in memory by key.

Every cache is a `BoundedCache`: at most `maxsize` entries, and when a new one would pass
that, the least recently used goes. A flood of keys seen once
therefore pushes out only what no request has used since, never a busy entry.

Each cache has a name and is registered in the app's `CacheSet`; /metrics reads their
sizes, hits and evictions from `CacheSet.snapshot()`, never from the caches themselves.

Pure functions in render/ (glyph outlines, text layout) keep `functools.lru_cache`: their
answers never go stale, belong to no request or app, and a hit costs no Python frame.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class CacheStats:
    """One cache as /metrics shows it."""

    name: str
    size: int
    maxsize: int
    hits: int
    misses: int
    evictions: int


_MISSING: Final = object()


class BoundedCache(Generic[K, V]):
    """A mapping of at most `maxsize` entries, least recently used dropped first.

    An OrderedDict in recency order: a hit moves its key to the end, a new key past the
    bound drops the first. Every step is one C call, where cachetools' LRUCache takes a few
    Python frames (2 µs for a miss that evicts, which a flood of one-off Referers and `d=`
    pays twice a request on the badge hot path)."""

    __slots__ = ("_limit", "_store", "evictions", "hits", "misses", "name")

    def __init__(self, name: str, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"cache {name!r} needs room for at least one entry")
        self.name = name
        self._limit = maxsize
        self._store: OrderedDict[K, V] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def get(self, key: K) -> V | None:
        """The value kept for `key` (now the most recently used), or None."""
        store = self._store
        value = store.get(key, _MISSING)
        if value is _MISSING:
            self.misses += 1
            return None
        store.move_to_end(key)
        self.hits += 1
        return value  # type: ignore[return-value]

    def put(self, key: K, value: V) -> None:
        store = self._store
        store[key] = value
        store.move_to_end(key)
        if len(store) > self._limit:
            store.popitem(last=False)
            self.evictions += 1

    def pop(self, key: K) -> V | None:
        return self._store.pop(key, None)

    def clear(self) -> None:
        self._store.clear()

    def __contains__(self, key: object) -> bool:
        return key in self._store

    def __len__(self) -> int:
        return len(self._store)

    @property
    def maxsize(self) -> int:
        return self._limit

    def stats(self) -> CacheStats:
        return CacheStats(
            self.name, len(self._store), self._limit, self.hits, self.misses, self.evictions
        )


class CacheSet:
    """The app's caches by name, for /metrics. A cache made again under the same name (a
    lifespan run twice by tests) takes the place of the old one."""

    def __init__(self) -> None:
        self._caches: dict[str, BoundedCache[object, object]] = {}

    def new(self, name: str, maxsize: int) -> BoundedCache[K, V]:
        cache: BoundedCache[K, V] = BoundedCache(name, maxsize)
        self._caches[name] = cache  # type: ignore[assignment]
        return cache

    def snapshot(self) -> tuple[CacheStats, ...]:
        return tuple(cache.stats() for _, cache in sorted(self._caches.items()))
