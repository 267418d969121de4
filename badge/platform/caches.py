"""Bounded caches: one rule for everything this process keeps in memory by key.

Every cache is a `BoundedCache`: at most `maxsize` entries, and when a new one would pass
that, the least recently used goes (cachetools' `LRUCache`). A flood of keys seen once
therefore pushes out only what no request has used since, never a busy entry.

Each cache has a name and is registered in the app's `CacheSet`; /metrics reads their
sizes, hits and evictions from `CacheSet.snapshot()`, never from the caches themselves.

Pure functions in render/ (glyph outlines, text layout) keep `functools.lru_cache`: their
answers never go stale, belong to no request or app, and a hit costs no Python frame.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from cachetools import LRUCache

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


class _Store(LRUCache[K, V]):
    """cachetools' LRU, counting what it drops to stay within its bound."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        self.evictions = 0

    def popitem(self) -> tuple[K, V]:
        item = super().popitem()
        self.evictions += 1
        return item


class BoundedCache(Generic[K, V]):
    """A mapping of at most `maxsize` entries, least recently used dropped first."""

    __slots__ = ("_store", "hits", "misses", "name")

    def __init__(self, name: str, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"cache {name!r} needs room for at least one entry")
        self.name = name
        self._store: _Store[K, V] = _Store(maxsize)
        self.hits = 0
        self.misses = 0

    def get(self, key: K) -> V | None:
        """The value kept for `key` (now the most recently used), or None."""
        try:
            value = self._store[key]
        except KeyError:
            self.misses += 1
            return None
        self.hits += 1
        return value

    def put(self, key: K, value: V) -> None:
        self._store[key] = value

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
        return int(self._store.maxsize)

    def stats(self) -> CacheStats:
        store = self._store
        return CacheStats(
            self.name, len(store), self.maxsize, self.hits, self.misses, store.evictions
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
