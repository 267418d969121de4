"""The hot path's warm answers: a badge request seen before, answered by one lookup.

Embeds send the same few requests over and over. Each is keyed by what it sent (path, raw
query, Referer, Accept-Encoding) and answered with what it got last time, while the shop's
entry that answer came from is still the one to serve (freshness.EntryCache.serves).
Only requests whose query and Referer were seen before are kept, so a flood of one-off
hosts pushes out nothing embeds ask for again and again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from badge.platform.caches import CacheStats
from badge.serving.entries import Entry
from badge.serving.responses import Form
from badge.serving.sightings import Tally

# Answers kept: bounded like the hot path's other caches, so at most about 6 MB.
MAX_WARM: Final = 4096
# A longer Accept-Encoding is answered, never kept.
MAX_ACCEPT_BYTES: Final = 256

# (shop id, the Referer's host[:port] as sent, `d` as sent): what a request sighted.
Sighted = tuple[str, bytes | None, str | None]
WarmKey = tuple[str, bytes, bytes | None, bytes | None]


@dataclass(slots=True)
class Warm:
    """What a badge request resolved to: the form to send, from which entry, and the
    sighting it counts. Valid while `entry` is the shop's current, usable entry.

    `hits` counts its requests since their sighting was last handed to the tally: an int
    add per request, where a tally lookup would cost half a microsecond."""

    shop_id: str
    entry: Entry | None
    form: Form
    status: int
    sighted: Sighted | None
    # The latency rows (HotPathStats.row) this answer and its 304 count in.
    timing: list[float]
    revalidated: list[float]
    hits: int = 0


class WarmTable:
    """The kept answers, at most MAX_WARM; sightings move between them and `tally`.

    A plain dict, emptied in one go when full: an LRU's bookkeeping on every hit would cost
    the lookup it saves, and what was dropped comes back on its next two requests. It is the
    one cache in memory that is not a `BoundedCache`; /metrics shows it beside them, as
    `warm_answers`, from `stats()`, which costs the hot path nothing: a hit is already counted
    on its answer (`Warm.hits`), and the hot path counts a miss on its way to a new answer."""

    name: Final = "warm_answers"

    def __init__(self, tally: Tally[Sighted]) -> None:
        self.tally = tally
        self._answers: dict[WarmKey, Warm] = {}
        # The bound's lookup, bound once: `get` is the hot path's one lookup.
        self.get = self._answers.get
        self.misses = 0
        self.evictions = 0
        # Hits handed on from answers (to the tally, or dropped unsighted); and what answers
        # counted that were not this table's hits: the request that made each, and the hits
        # it took over from the tally when it was kept.
        self._handed = 0
        self._not_hits = 0

    def stats(self) -> CacheStats:
        pending = sum(warm.hits for warm in self._answers.values())
        hits = self._handed + pending - self._not_hits
        return CacheStats(
            self.name, len(self._answers), MAX_WARM, hits, self.misses, self.evictions
        )

    def __len__(self) -> int:
        return len(self._answers)

    def __iter__(self) -> Iterator[WarmKey]:
        return iter(self._answers)

    def clear(self) -> None:
        for dropped in self._answers.values():
            self._fold(dropped)
        self._answers.clear()

    def keep(self, key: WarmKey, warm: Warm) -> None:
        """`warm` answers `key` from now on; what it replaces hands its hits to the tally."""
        if len(self._answers) >= MAX_WARM:
            self.evictions += len(self._answers)
            self.clear()
        else:
            self._fold(self._answers.get(key))
        # The key's hits so far move along, so the flush sees them as one repeat visitor.
        if warm.sighted is not None:
            warm.hits = self.tally.take(warm.sighted)
        self._not_hits += warm.hits + 1
        self._answers[key] = warm

    def take_sightings(self) -> list[tuple[Sighted, int]]:
        """Each kept answer's sighting with its hits since the last call. These are repeat
        requests: the flush takes them before the tally's, which a flood fills with one-offs."""
        taken = []
        for warm in self._answers.values():
            if warm.hits:
                if warm.sighted is not None:
                    taken.append((warm.sighted, warm.hits))
                self._handed += warm.hits
                warm.hits = 0
        return taken

    def _fold(self, warm: Warm | None) -> None:
        """A kept answer about to be dropped hands its pending hits to the tally."""
        if warm is not None and warm.hits:
            if warm.sighted is not None:
                self.tally.add(warm.sighted, warm.hits)
            self._handed += warm.hits
            warm.hits = 0
