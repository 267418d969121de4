"""Prometheus metrics, collected at scrape time from counters the hot path keeps cheaply."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from badge.platform.caches import CacheSet
from badge.platform.purge import EdgePurger
from badge.serving.hotpath import HotPathStats
from badge.serving.service import BadgeService, ServiceStats


class _BadgeCollector(Collector):
    def __init__(
        self, stats: HotPathStats, badges: BadgeService, purger: EdgePurger | None
    ) -> None:
        self.stats = stats
        self.badges = badges
        self.purger = purger

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        yield self._responses()
        service = self.badges.stats()
        yield from self._cache(service)
        yield from self._redis(service)
        yield from self._purges()

    def _responses(self) -> CounterMetricFamily:
        responses = CounterMetricFamily(
            "badge_responses", "Badge responses by HTTP status", labels=["status"]
        )
        counts = dict(self.stats.responses)
        counts[200] = counts.get(200, 0) + self.stats.ok
        counts[304] = counts.get(304, 0) + self.stats.not_modified
        for status, count in sorted(counts.items()):
            responses.add_metric([str(status)], count)
        return responses

    def _cache(self, service: ServiceStats) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        yield CounterMetricFamily(
            "badge_renders",
            "Badge variants rendered (cache misses)",
            value=service.drawing.renders,
        )
        yield CounterMetricFamily(
            "badge_signatures", "JWS tokens signed", value=service.loader.signatures
        )
        yield GaugeMetricFamily(
            "badge_cached_shops",
            "Shops held in the per-process cache",
            value=service.entries.shops,
        )
        yield CounterMetricFamily(
            "badge_registry_loads",
            "Shops read from the registry (misses of memory and Redis)",
            value=service.loader.registry_loads,
        )
        yield GaugeMetricFamily(
            "badge_change_feed_age_seconds",
            "Seconds since the change feed last confirmed cached states",
            value=service.entries.feed_age,
        )
        yield CounterMetricFamily(
            "badge_variants_prepared",
            "Badge variants prepared in the background after a change or at start",
            value=service.prepared,
        )
        yield CounterMetricFamily(
            "badge_internal_errors",
            "Badge requests that failed on a bug (logged with a traceback), not an outage",
            value=service.internal_errors,
        )

    def _redis(self, service: ServiceStats) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        yield CounterMetricFamily(
            "badge_redis_shared_hits",
            "Shops found in Redis on a memory miss",
            value=service.loader.shared_hits,
        )
        yield CounterMetricFamily(
            "badge_redis_errors",
            "Redis calls that failed or timed out",
            value=service.redis_errors,
        )
        yield GaugeMetricFamily(
            "badge_redis_circuit_open",
            "1 while the circuit breaker keeps requests away from Redis",
            value=1 if service.redis_circuit_open else 0,
        )
        yield GaugeMetricFamily(
            "badge_redis_bus_subscribed",
            "1 while this instance is subscribed to the invalidation channel",
            value=1 if service.entries.bus_status == "subscribed" else 0,
        )

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
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_BadgeCollector(stats, badges, purger))
        for collector in extra:
            self.registry.register(collector)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
