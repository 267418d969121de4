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
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Final, Generic, Literal, TypeVar
from urllib.parse import urlsplit

from badge.registry import rules

Source = Literal["referer", "claim"]
SOURCES: Final[tuple[Source, ...]] = ("referer", "claim")

K = TypeVar("K", bound=Hashable)


class Tally(Generic[K]):
    """Per-key counts in at most `limit` keys (space-saving, with pruning in bulk).

    Each key holds [estimate, floor]: the floor is the count it inherited on entry, so
    `estimate - floor` is a lower bound of its real hits and `estimate` an upper bound.
    Pruning keeps the heaviest half at once, so the amortised cost per new key is small.
    """

    __slots__ = ("counts", "floor", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.counts: dict[K, list[int]] = {}
        self.floor = 0

    def add(self, key: K, hits: int = 1) -> None:
        found = self.counts.get(key)
        if found is not None:
            found[0] += hits
            return
        if len(self.counts) >= self.limit:
            self._prune()
        self.counts[key] = [self.floor + hits, self.floor]

    def _prune(self) -> None:
        ranked = sorted(self.counts.items(), key=lambda item: item[1][0], reverse=True)
        keep = self.limit // 2
        # Newcomers start at the largest count evicted, as space-saving replaces the minimum.
        self.floor = max(self.floor, ranked[keep][1][0])
        self.counts = dict(ranked[:keep])

    def drain(self) -> dict[K, int]:
        """The lower-bound hits per key, and a fresh start."""
        counts = {key: max(1, value[0] - value[1]) for key, value in self.counts.items()}
        self.counts = {}
        self.floor = 0
        return counts

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


def collect(
    referers: dict[tuple[str, bytes], int],
    claims: dict[tuple[str, str], int],
    domains_of: Callable[[str], frozenset[str] | None],
) -> Batch:
    """Normalise a flush's raw hosts (CPU work: callers run it in a thread) and group them."""
    batch: Batch = {}
    raw: list[tuple[str, Source, str, int]] = [
        (shop_id, "referer", netloc.decode("latin-1"), hits)
        for (shop_id, netloc), hits in referers.items()
    ]
    raw.extend((shop_id, "claim", text, hits) for (shop_id, text), hits in claims.items())
    known: dict[str, frozenset[str] | None] = {}
    for shop_id, source, text, hits in raw:
        if shop_id not in known:
            known[shop_id] = domains_of(shop_id)
        domains = known[shop_id]
        host = normalise_host(text)
        if domains is None or host is None:
            continue
        group = batch.setdefault((shop_id, source), {})
        before = group.get(host)
        group[host] = Seen(hits + (before.hits if before else 0), host in domains)
    return batch
