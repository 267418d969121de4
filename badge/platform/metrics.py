"""Prometheus metrics, collected at scrape time from counters the hot path keeps cheaply."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Final

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from badge.platform.caches import CacheSet
from badge.platform.keyshare import KeyShare
from badge.platform.purge import EdgePurger
from badge.platform.ratelimit import BUCKETS, RateLimiter
from badge.proofs.check import ProofStats
from badge.registry.base import Registry
from badge.registry.calls import BOUNDS as REGISTRY_BOUNDS
from badge.serving.hotpath import LATENCY_BOUNDS, HotPathStats
from badge.serving.service import BadgeService, ServiceStats

BUS_STATES = ("off", "subscribed", "down")

Family = CounterMetricFamily | GaugeMetricFamily
COUNTER: Final = CounterMetricFamily
GAUGE: Final = GaugeMetricFamily

# What the collectors below report, by name: help, then the label of the metrics that
# have one, and which are gauges (the rest are counters). The collectors give the values.
HELP: Final[dict[str, str]] = {
    "badge_cached_shops": "Shops held in the per-process cache",
    "badge_change_feed_age_seconds": "Seconds since the change feed last confirmed cached states",
    "badge_domain_checks": "Ownership checks made here, by result",
    "badge_domain_proofs_lost": (
        "Ownership proofs found lost by this instance's checks (each loss counted once)"
    ),
    "badge_domains": "Registered domains by ownership proof state",
    "badge_internal_errors": (
        "Badge requests, pages and background work that failed on a bug (logged with a "
        "traceback), not an outage"
    ),
    "badge_keys_disagree": (
        "1 while no other live instance publishes this instance's signing key (KEYS "
        "DISAGREE: its BADGE_KEYS_DIR is not the shared one)"
    ),
    "badge_keys_other_instances": "Other live instances publishing their keys in Redis",
    "badge_rate_limit_redis_errors": (
        "Rate limit counters that Redis failed to keep (counted in process instead)"
    ),
    "badge_rate_limited": "Requests refused with 429, by bucket",
    "badge_redis_bus_state": (
        "The invalidation bus: off (no Redis configured), subscribed or down (1 for the "
        "current state)"
    ),
    "badge_redis_bus_subscribed": "1 while this instance is subscribed to the invalidation channel",
    "badge_redis_circuit_open": "1 while the circuit breaker keeps requests away from Redis",
    "badge_redis_errors": "Redis calls that failed or timed out",
    "badge_redis_shared_hits": "Shops found in Redis on a memory miss",
    "badge_registry_loads": "Shops read from the registry (misses of memory and Redis)",
    "badge_renders": "Badge variants rendered (cache misses)",
    "badge_responses": "Badge responses by HTTP status",
    "badge_sightings_dropped": (
        "Sighted hosts not recorded: tally (pruned from the bounded per-process tally), "
        "bounds (odd or one-off hosts over a flush's bounds), write_failed (the registry "
        "refused the flush)"
    ),
    "badge_signatures": "JWS tokens signed",
    "badge_variants_prepared": (
        "Badge variants prepared in the background after a change or at start"
    ),
}
LABELS: Final[dict[str, str]] = {
    "badge_domain_checks": "result",
    "badge_domains": "state",
    "badge_rate_limited": "bucket",
    "badge_redis_bus_state": "state",
    "badge_responses": "status",
    "badge_sightings_dropped": "reason",
}
GAUGES: Final = frozenset(
    {
        "badge_cached_shops",
        "badge_change_feed_age_seconds",
        "badge_domains",
        "badge_keys_disagree",
        "badge_keys_other_instances",
        "badge_redis_bus_state",
        "badge_redis_bus_subscribed",
        "badge_redis_circuit_open",
    }
)


def _kind(name: str) -> type[Family]:
    return GAUGE if name in GAUGES else COUNTER


def _singles(values: Mapping[str, float]) -> Iterator[Family]:
    """A metric of one value for each name (a flag counts as 1 or 0)."""
    for name, value in values.items():
        yield _kind(name)(name, HELP[name], value=float(value))


def _labelled(name: str, rows: Iterable[tuple[str, float]]) -> Family:
    """A metric of one label, with a sample for each (label value, value) row."""
    family = _kind(name)(name, HELP[name], labels=[LABELS[name]])
    for value_of_label, value in rows:
        family.add_metric([value_of_label], float(value))
    return family


class _BadgeCollector(Collector):
    def __init__(
        self, stats: HotPathStats, badges: BadgeService, purger: EdgePurger | None
    ) -> None:
        self.stats = stats
        self.badges = badges
        self.purger = purger

    def collect(self) -> Iterator[Metric]:
        yield self._responses()
        yield from self._requests()
        yield from self._service(self.badges.stats())
        yield from self._purges()
        yield from self._sightings()

    def _responses(self) -> Family:
        counts = dict(self.stats.responses)
        counts[200] = counts.get(200, 0) + self.stats.ok
        counts[304] = counts.get(304, 0) + self.stats.not_modified
        rows = ((str(status), count) for status, count in sorted(counts.items()))
        return _labelled("badge_responses", rows)

    def _requests(self) -> Iterator[Metric]:
        """The hot path's integer buckets, folded into a histogram and a counter here."""
        latency = HistogramMetricFamily(
            "badge_request_duration_seconds",
            "Time from the request reaching the app to its last byte handed to the server, "
            "by route template and badge variant (- for other routes)",
            labels=["route", "variant"],
        )
        by_series: dict[tuple[str, str], list[float]] = {}
        by_status: dict[tuple[str, str], float] = {}
        # A snapshot first: a request finishing meanwhile may add a key.
        for (route, variant, status), counts in list(self.stats.timings.items()):
            merged = by_series.setdefault((route, variant), [0] * len(counts))
            for index, count in enumerate(counts):
                merged[index] += count
            by_status[(route, str(status))] = by_status.get((route, str(status)), 0) + sum(
                counts[:-1]
            )
        for (route, variant), counts in sorted(by_series.items()):
            latency.add_metric([route, variant], _buckets(LATENCY_BOUNDS, counts[:-1]), counts[-1])
        yield latency
        responses = CounterMetricFamily(
            "badge_http_responses", "Responses by route template and HTTP status",
            labels=["route", "status"],
        )  # fmt: skip
        for (route, code), count in sorted(by_status.items()):
            responses.add_metric([route, code], count)
        yield responses
        lookups = CounterMetricFamily(
            "badge_hotpath_lookups",
            "Badge requests by the in-memory lookup's result: hit (answered from memory) or "
            "miss (loaded, rendered or refused)",
            labels=["result"],
        )
        # Every badge request but a refused one (a bad query, a bad method) is looked up.
        looked_up = sum(
            sum(counts[:-1])
            for (route, variant), counts in by_series.items()
            if route.startswith("/b/") and variant != "error"
        )
        lookups.add_metric(["hit"], max(0, looked_up - self.stats.misses))
        lookups.add_metric(["miss"], self.stats.misses)
        yield lookups

    def _service(self, service: ServiceStats) -> Iterator[Family]:
        bus = service.entries.bus_status
        yield from _singles(
            {
                "badge_renders": service.drawing.renders,
                "badge_signatures": service.loader.signatures,
                "badge_cached_shops": service.entries.shops,
                "badge_registry_loads": service.loader.registry_loads,
                "badge_change_feed_age_seconds": service.entries.feed_age,
                "badge_variants_prepared": service.prepared,
                "badge_internal_errors": service.internal_errors,
                "badge_redis_shared_hits": service.loader.shared_hits,
                "badge_redis_errors": service.redis_errors,
                "badge_redis_circuit_open": service.redis_circuit_open,
                "badge_redis_bus_subscribed": bus == "subscribed",
            }
        )
        yield _labelled("badge_redis_bus_state", ((name, name == bus) for name in BUS_STATES))

    def _purges(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        purges = CounterMetricFamily(
            "badge_edge_purges",
            "Purge requests to edge caches: ok, retried (one failed attempt), failed (gave up)",
            labels=["edge", "result"],
        )
        pending = GaugeMetricFamily(
            "badge_edge_purge_pending", "Surrogate keys waiting to be purged", labels=["edge"]
        )
        for edge in self.purger.edges if self.purger is not None else ():
            for result in ("ok", "retried", "failed"):
                purges.add_metric([edge.shown, result], edge.counts[result])
            pending.add_metric([edge.shown], len(edge.pending))
        yield purges
        yield pending

    def _sightings(self) -> Iterator[Family]:
        dropped = self.stats.sightings_dropped
        rows = [(reason, dropped[reason]) for reason in ("bounds", "write_failed")]
        yield _labelled("badge_sightings_dropped", [("tally", self.stats.sightings.dropped), *rows])


class _RegistryCollector(Collector):
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        latency = HistogramMetricFamily(
            "badge_registry_duration_seconds",
            "Registry transactions by kind (read or write), failed ones included",
            labels=["kind"],
        )
        errors = CounterMetricFamily(
            "badge_registry_errors",
            "Registry transactions that failed: unreachable, timed out, no free connection",
            labels=["kind"],
        )
        for kind, seen in self.registry.call_stats.snapshot().items():
            latency.add_metric([kind], _buckets(REGISTRY_BOUNDS, seen.buckets), seen.seconds)
            errors.add_metric([kind], seen.errors)
        yield latency
        yield errors


class _KeysCollector(Collector):
    def __init__(self, keyshare: KeyShare | None) -> None:
        self.keyshare = keyshare

    def collect(self) -> Iterator[Metric]:
        others = self.keyshare.others if self.keyshare is not None else {}
        disagree = self.keyshare is not None and self.keyshare.disagreement() is not None
        yield from _singles(
            {"badge_keys_disagree": disagree, "badge_keys_other_instances": len(others)}
        )


def _buckets(bounds: Sequence[float], counts: Sequence[float]) -> list[tuple[str, float]]:
    """Per-bucket counts (the last one +Inf) as Prometheus' cumulative `le` buckets."""
    found: list[tuple[str, float]] = []
    running = 0.0
    for bound, count in zip((*bounds, float("inf")), counts, strict=True):
        running += count
        found.append(("+Inf" if bound == float("inf") else str(bound), running))
    return found


class ProofCollector(Collector):
    """Domain ownership checks made by this instance, and the domains in each proof state."""

    def __init__(self, stats: ProofStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator[Family]:
        checks = self.stats.checks
        yield _labelled("badge_domain_checks", ((r, checks[r]) for r in ("proven", "failed")))
        yield from _singles({"badge_domain_proofs_lost": self.stats.lost})
        yield _labelled("badge_domains", sorted(self.stats.states.items()))


class RateLimitCollector(Collector):
    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter

    def collect(self) -> Iterator[Family]:
        limited = self.limiter.limited
        yield _labelled("badge_rate_limited", ((bucket, limited[bucket]) for bucket in BUCKETS))
        yield from _singles({"badge_rate_limit_redis_errors": self.limiter.redis_errors})


class CacheCollector(Collector):
    """Every bounded cache of the app (badge.platform.caches), from one snapshot."""

    def __init__(self, caches: CacheSet) -> None:
        self.caches = caches

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        labels = ["cache"]
        size = GaugeMetricFamily("badge_cache_entries", "Entries held", labels=labels)
        bound = GaugeMetricFamily("badge_cache_max_entries", "Entries allowed", labels=labels)
        hits = CounterMetricFamily("badge_cache_hits", "Lookups that found an entry", labels=labels)
        misses = CounterMetricFamily(
            "badge_cache_misses", "Lookups that found nothing", labels=labels
        )
        evictions = CounterMetricFamily(
            "badge_cache_evictions", "Entries dropped to stay within the bound", labels=labels
        )
        for cache in self.caches.snapshot():
            size.add_metric([cache.name], cache.size)
            bound.add_metric([cache.name], cache.maxsize)
            hits.add_metric([cache.name], cache.hits)
            misses.add_metric([cache.name], cache.misses)
            evictions.add_metric([cache.name], cache.evictions)
        yield from (size, bound, hits, misses, evictions)


class Metrics:
    def __init__(
        self,
        stats: HotPathStats,
        badges: BadgeService,
        purger: EdgePurger | None = None,
        *extra: Collector,
        registry: Registry | None = None,
        keyshare: KeyShare | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_BadgeCollector(stats, badges, purger))
        if registry is not None:
            self.registry.register(_RegistryCollector(registry))
        self.registry.register(_KeysCollector(keyshare))
        for collector in extra:
            self.registry.register(collector)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
