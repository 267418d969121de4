"""Where badges are shown: bounded heavy-hitter counts that a flood of junk cannot blind.

Two sources are kept apart, each with its own bounds:

- `referer`: the host of the page that loaded the badge, as the browser sent it. A page
  cannot forge it (a script outside a browser can, which is why counts decide, not order);
- `claim`: what `d=` said the page was, which anyone can set to anything.

Both the per-process tally and the stored table use the space-saving rule: when full, a
newcomer replaces the smallest count and starts from it. A host that keeps showing the
badge keeps a count above any junk host seen once, so junk cannot push it out.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Final, Generic, Literal, TypeVar
from urllib.parse import urlsplit

from badge.registry import rules
from badge.serving import binding

Source = Literal["referer", "claim"]
SOURCES: Final[tuple[Source, ...]] = ("referer", "claim")

K = TypeVar("K", bound=Hashable)


class Tally(Generic[K]):
    """Per-key counts in at most `limit` keys (space-saving, with pruning in bulk).

    `counts` holds each key's estimate; `floors` the count a key inherited on entry (when
    not 0), so `estimate - floor` is a lower bound of its real hits and `estimate` an upper
    bound. Pruning keeps the heaviest half at once, so the amortised cost per new key is
    small. Keys and counts are plain strings, bytes and ints, which the garbage collector
    does not track: a full tally costs a collection nothing.
    """

    __slots__ = ("counts", "dropped", "floor", "floors", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.counts: dict[K, int] = {}
        self.floors: dict[K, int] = {}
        self.floor = 0
        # Keys pruned to stay within `limit`, ever (for /metrics).
        self.dropped = 0

    def add(self, key: K, hits: int = 1) -> None:
        found = self.counts.get(key)
        if found is not None:
            self.counts[key] = found + hits
            return
        if len(self.counts) >= self.limit:
            self._prune()
        self.counts[key] = self.floor + hits
        if self.floor:
            self.floors[key] = self.floor

    def _prune(self) -> None:
        # Sorting the bare estimates (ints, in C) finds the cut; one pass finds what is at or
        # below it. Keys at the cut go too: a flood of hosts seen once empties the tally at
        # once.
        counts, floors = self.counts, self.floors
        estimates = sorted(counts.values())
        cut = estimates[len(estimates) - self.limit // 2 - 1]
        # Newcomers start at the largest count evicted, as space-saving replaces the minimum.
        self.floor = max(self.floor, cut)
        if cut >= estimates[-1]:
            # Nothing above the cut (a flood of one-offs): emptied in one C call.
            self.dropped += len(counts)
            counts.clear()
            floors.clear()
            return
        # Deleted in place: rebuilt tables would be young objects of thousands of entries,
        # which the garbage collector's next two passes walk whole (milliseconds each).
        gone = [key for key, count in counts.items() if count <= cut]
        for key in gone:
            del counts[key]
            floors.pop(key, None)
        self.dropped += len(gone)

    def take(self, key: K) -> int:
        """Remove `key`: the lower bound of its hits, 0 when it is not here."""
        count = self.counts.pop(key, None)
        if count is None:
            return 0
        return max(1, count - self.floors.pop(key, 0))

    def drain(self) -> Iterator[tuple[K, int]]:
        """Each key with the lower bound of its hits, and a fresh start. The swap takes
        constant time; the caller walks the iterator at its own pace."""
        counts, floors = self.counts, self.floors
        self.counts, self.floors, self.floor = {}, {}, 0
        return ((key, max(1, count - floors.get(key, 0))) for key, count in counts.items())

    def __len__(self) -> int:
        return len(self.counts)


@dataclass(frozen=True, slots=True)
class Seen:
    """Hits on one host for one shop and source in one flush."""

    hits: int
    registered: bool


@dataclass(frozen=True, slots=True)
class Plan:
    """What a registry writes for one (shop, source): counts to add, rows to add, rows to drop."""

    bump: dict[str, Seen]
    insert: dict[str, tuple[Seen, int]]  # host -> (hits, count it starts from)
    evict: list[str]


def plan(existing: dict[str, int], incoming: dict[str, Seen], limit: int) -> Plan:
    """Space-saving over the stored rows: `existing` maps host to stored count."""
    bump = {host: seen for host, seen in incoming.items() if host in existing}
    counts = {host: count + bump[host].hits if host in bump else count
              for host, count in existing.items()}  # fmt: skip
    insert: dict[str, tuple[Seen, int]] = {}
    evict: list[str] = []
    # Heaviest newcomers first, so the ones most worth keeping get the free rows.
    fresh = sorted(
        ((host, seen) for host, seen in incoming.items() if host not in existing),
        key=lambda item: (-item[1].hits, item[0]),
    )[:limit]  # more newcomers than rows: only the heaviest `limit` could ever stay
    for host, seen in fresh:
        if len(counts) < limit:
            counts[host] = seen.hits
            insert[host] = (seen, 0)
            continue
        smallest = min(counts, key=lambda h: (counts[h], h))
        floor = counts.pop(smallest)
        if smallest in insert:
            del insert[smallest]
        else:
            evict.append(smallest)
            bump.pop(smallest, None)
        counts[host] = floor + seen.hits
        insert[host] = (seen, floor)
    return Plan(bump=bump, insert=insert, evict=evict)


def normalise_host(raw: str) -> str | None:
    """A sighting's host as stored: a domain like registered ones, or an IP address as such
    (a badge shown on a bare IP is exactly what operators want to see); None for junk."""
    host = rules.try_normalise_domain(raw)
    if host is not None:
        return host
    try:
        literal = urlsplit("//" + raw.strip()).hostname
        return None if literal is None else str(ipaddress.ip_address(literal))
    except ValueError:
        return None


Batch = dict[tuple[str, Source], dict[str, Seen]]


# Hosts one (shop, source) may bring to a flush before single hits are dropped: five times
# the rows the registry keeps per shop and source.
GROUP_CAP: Final = 5 * rules.MAX_SIGHTINGS_PER_SHOP


class Collector:
    """A flush's raw hosts, normalised and grouped by shop and source, a few at a time.

    Plain ASCII hosts cost one regular expression. At most `idna_budget` others get the full
    IDNA treatment per flush; the rest are dropped and counted in `skipped`, so a flood of
    odd host names costs a bounded amount of work whatever its size. So does a flood of
    distinct names for one shop: past GROUP_CAP hosts in a (shop, source), a host seen once
    is dropped too (the stored rows keep at most MAX_SIGHTINGS_PER_SHOP of them anyway), so
    the registry's write plans over a bounded batch.
    """

    def __init__(self, domains: dict[str, frozenset[str]], idna_budget: int) -> None:
        self.domains = domains
        self.idna_left = idna_budget
        self.batch: Batch = {}
        self.skipped = 0

    def add(self, shop_id: str, source: Source, text: str, hits: int) -> None:
        domains = self.domains.get(shop_id)
        if domains is None:
            return
        host = binding.quick_domain(text)
        # Hyphen pairs (punycode among them) are what IDNA checks beyond the quick path.
        if host is None or "--" in host:
            if self.idna_left <= 0:
                self.skipped += 1
                return
            self.idna_left -= 1
            host = normalise_host(text)
            if host is None:
                return
        group = self.batch.setdefault((shop_id, source), {})
        before = group.get(host)
        if before is None and hits == 1 and len(group) >= GROUP_CAP:
            self.skipped += 1
            return
        group[host] = Seen(hits + (before.hits if before else 0), host in domains)
