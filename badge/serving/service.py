"""The badge service: the live state of each shop, as prepared badge variants.

A variant is (shop, format, language, size, scale, site class); the site class comes from
the page that shows the badge (binding.py). The jobs are apart, each with its own state:

- freshness.py keeps entries in memory for as long as they may be trusted, and loads them;
- entries.py loads a shop from Redis or the registry and signs it;
- variants.py decides what a variant says (pure);
- drawing.py draws a variant and builds its response once;
- warmup.py prepares variants again after a change.

The hot path looks a variant up in `entries` (no I/O); a miss comes here, and goes down
once: the entry (loaded if need be), the site class, the signature, the drawing, the
response, kept with the entry.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from badge.platform.bus import SharedCache
from badge.platform.caches import CacheSet
from badge.registry.base import Registry
from badge.registry.unreachable import UNREACHABLE_ERRORS
from badge.render.pool import RenderPool
from badge.render.svg import BadgeView
from badge.serving import binding
from badge.serving.drawing import DrawingStats, VariantRenderer
from badge.serving.entries import Entry, EntryLoader, LoaderStats
from badge.serving.freshness import EntryCache, EntryStats
from badge.serving.query import BadgeQuery
from badge.serving.responses import Rendered
from badge.serving.variants import ERROR_TEXTS, ErrorKind, VariantKey, badge_view, decide
from badge.serving.warmup import WarmupQueue
from badge.settings import Settings
from badge.signing import KeyStore
from badge.vocabulary import Format

__all__ = ["ERROR_TEXTS", "BadgeService", "Entry", "ErrorKind", "Rendered", "VariantKey"]

logger = logging.getLogger("badge")


@dataclass(frozen=True, slots=True)
class ServiceStats:
    """What /metrics shows of the service, read in one go."""

    entries: EntryStats
    loader: LoaderStats
    drawing: DrawingStats
    prepared: int
    # Failures that were neither the registry nor a timeout: bugs, logged with a traceback.
    internal_errors: int
    redis_errors: int
    redis_circuit_open: bool


class BadgeService:
    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        keys: KeyStore,
        *,
        caches: CacheSet | None = None,
        shared: SharedCache | None = None,
        pool: RenderPool | None = None,
        purge: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # A service of its own (the CLI, tests) keeps its caches to itself.
        caches = CacheSet() if caches is None else caches
        self.loader = EntryLoader(settings, registry, keys, shared, clock)
        self.entries = EntryCache(settings, clock, caches, self.loader.fetch, purge)
        self.renderer = VariantRenderer(settings, caches, pool)
        self.warmup = WarmupQueue()
        self.shared = shared
        # A Referer from our own pages (the embed preview, /v) counts as the shop's site.
        self.own_netlocs = frozenset({urlsplit(settings.public_url).netloc.lower().encode()})
        self._internal_errors = 0

    def stats(self) -> ServiceStats:
        shared = self.shared
        return ServiceStats(
            entries=self.entries.stats(),
            loader=self.loader.stats(),
            drawing=self.renderer.stats(),
            prepared=self.warmup.prepared,
            internal_errors=self._internal_errors,
            redis_errors=0 if shared is None else shared.errors,
            redis_circuit_open=shared is not None and shared.breaker.is_open,
        )

    def internal_error(self, message: str, *args: object) -> None:
        """A failure that is neither the registry nor a timeout, here or in what uses this
        service (pages, warm-up): a bug, logged with its traceback (so call it in the
        `except` block) and counted in /metrics, so it never passes for an outage."""
        self._internal_errors += 1
        logger.exception(message, *args)

    def invalidate(self, shop_id: str) -> None:
        """A change of one shop: dropped here and at the edge; its pages' variants wanted."""
        self.warmup.want(self.entries.invalidate(shop_id))

    def invalidate_all(self) -> None:
        for entry in self.entries.invalidate_all():
            self.warmup.want(entry)

    async def changed(self, shop_id: str) -> None:
        """After a change made by this process: drop it here, then tell the other instances."""
        self.invalidate(shop_id)
        if self.shared is not None:
            await self.shared.publish_change(shop_id)

    def on_bus_message(self, shop_id: str) -> None:
        if shop_id == "*":
            self.invalidate_all()
        else:
            self.invalidate(shop_id)

    async def get(
        self, shop_id: str, fmt: Format, query: BadgeQuery, referer_class: str | None
    ) -> Rendered:
        """A badge whatever the cache holds. `referer_class` is the Referer's class
        (binding.decide)."""
        lang, size, scale = query.lang, query.size, query.scale_for(fmt)
        try:
            entry = await self.entries.entry(shop_id)
        except UNREACHABLE_ERRORS:
            # The registry is unreachable and our copy is too old to trust.
            return await self.renderer.nobody_badge("unavailable", fmt, lang, size, scale)
        except Exception:
            # A bug, not an outage: said loudly, counted, and the page still gets a badge.
            self.internal_error("could not load shop %s for a badge", shop_id)
            return await self.renderer.nobody_badge("unavailable", fmt, lang, size, scale)
        if entry.shop is None:
            return await self.renderer.nobody_badge("unknown", fmt, lang, size, scale)
        decision = decide(
            entry.shop, entry.state, lang, size, referer_class, query.site, entry.sites
        )
        key: VariantKey = (shop_id, fmt, lang, size, scale, decision.site)
        return await self.variant(entry, key, decision.view)

    async def draw(self, key: VariantKey) -> Rendered:
        """A variant the hot path found missing from a usable entry (EntryCache.lookup)."""
        entry = self.entries.current(key[0])
        assert entry is not None  # nothing awaited since the lookup found it
        return await self.variant(entry, key)

    async def variant(
        self, entry: Entry, key: VariantKey, view: BadgeView | None = None
    ) -> Rendered:
        """One variant of a loaded shop, signed and drawn the first time it is asked for;
        `view` when the caller has it already (variants.decide)."""
        rendered = entry.variants.get(key)
        if rendered is None:
            shop = entry.shop
            assert shop is not None
            _, fmt, lang, size, scale, site = key
            if view is None:
                view = badge_view(shop, entry.state, site, lang, size)
            token = self.loader.variant_token(entry, site)
            label = binding.variant_claims(site, "")["variant"]
            rendered = await self.renderer.variant(view, fmt, scale, token, shop.id, label)
            entry.add_variant(key, rendered)
        return rendered
