"""The badge service: the live state of each shop, as prepared badge variants.

A variant is (shop, format, language, size, scale, site class); the site class comes from
the page that shows the badge (binding.py). The jobs are apart:

- variants.py decides what a variant says (pure);
- entries.py loads a shop from Redis or the registry and signs it;
- freshness.py keeps entries in memory for as long as they may be trusted;
- drawing.py draws a variant and builds its response once.

This module puts them together for the hot path (`cached`, no I/O) and everything else
(`get`, `shop_entry`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Final, Literal
from urllib.parse import urlsplit

from badge.platform.bus import SharedCache
from badge.platform.caches import CacheSet
from badge.platform.purge import surrogate_headers
from badge.registry import rules
from badge.registry.base import Registry
from badge.render.pool import RenderPool
from badge.render.svg import BadgeView
from badge.serving import binding
from badge.serving.drawing import VariantRenderer
from badge.serving.entries import UNKNOWN, Entry, EntryLoader
from badge.serving.freshness import EntryCache
from badge.serving.responses import Rendered
from badge.serving.variants import (
    ERROR_TEXTS,
    ErrorKind,
    VariantKey,
    badge_view,
    decide,
    error_view,
    unknown_view,
)
from badge.settings import Settings
from badge.signing import KeyStore
from badge.vocabulary import Format, Lang, Size

__all__ = [
    "ERROR_TEXTS",
    "BadgeService",
    "Entry",
    "ErrorKind",
    "Format",
    "Rendered",
    "VariantKey",
    "Want",
]

SHORT_CACHE: Final = b"public, max-age=30"
# A variant to prepare after a change: (format, language, size, scale, site class before).
Want = tuple[Format, Lang, Size, int, str]
MAX_WANTS_PER_SHOP: Final = 32
MAX_WANTED_SHOPS: Final = 5000


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
        self.settings = settings
        self.clock = clock
        self.shared = shared
        # A service of its own (the CLI, tests) keeps its caches to itself.
        caches = CacheSet() if caches is None else caches
        self.cache = EntryCache(settings, clock, caches, purge)
        self.loader = EntryLoader(settings, registry, keys, shared, clock)
        self.renderer = VariantRenderer(caches, pool)
        # The hot path and the sightings flush read the entries directly.
        self.entries = self.cache.entries
        self.stale_limit = settings.stale_limit
        # A Referer from our own pages (the embed preview, /v) counts as the shop's site.
        self.own_netlocs = frozenset({urlsplit(settings.public_url).netloc.lower().encode()})
        self.cache_control = (
            f"public, max-age={settings.max_age}, "
            f"stale-while-revalidate={settings.stale_while_revalidate}"
        ).encode()
        self._generic: dict[tuple[str, Format, Lang, Size, int], Rendered] = {}
        # At most len(ERROR_TEXTS) x 2 formats x 4 languages entries, ever.
        self._errors: dict[tuple[ErrorKind, Format, Lang], Rendered] = {}
        self.bus_status = "off"
        # Variants the pages of changed shops were loading, for warmup.py to prepare again.
        self.wanted: dict[str, set[Want]] = {}
        self.wanted_event = asyncio.Event()
        self.prepared_count = 0

    # Freshness, for the change feed, the bus and /healthz.
    @property
    def fresh_at(self) -> float:
        return self.cache.fresh_at

    def is_fresh(self, now: float) -> bool:
        return self.cache.is_fresh(now)

    def mark_fresh(self) -> None:
        self.cache.mark_fresh()

    def invalidate(self, shop_id: str) -> None:
        self._want(self.cache.invalidate(shop_id))

    def invalidate_all(self) -> None:
        dropped = list(self.entries.values())
        self.cache.invalidate_all()
        for entry in dropped:
            self._want(entry)

    def _want(self, dropped: Entry | None) -> None:
        if dropped is None or dropped.shop is None or not dropped.variants:
            return
        shop_id = dropped.shop.id
        if shop_id not in self.wanted and len(self.wanted) >= MAX_WANTED_SHOPS:
            return
        wants = self.wanted.setdefault(shop_id, set())
        for _, fmt, lang, size, scale, site in dropped.variants:
            if len(wants) >= MAX_WANTS_PER_SHOP:
                break
            wants.add((fmt, lang, size, scale, site))
        self.wanted_event.set()

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

    def set_bus_status(self, status: str) -> None:
        self.bus_status = status

    def fresh_entry(self, shop_id: str) -> Entry | None:
        """The shop's entry if it may be served now without asking anyone; no I/O."""
        entry = self.entries.get(shop_id)
        return entry if self.cache.usable(entry, self.clock()) else None

    def cached(
        self,
        shop_id: str,
        fmt: Format,
        lang: Lang,
        size: Size,
        scale: int,
        claim: str | None,
        referer: str | None,
        now: float,
    ) -> Rendered | None:
        """The hot path's lookup: no I/O, no awaits; `EntryCache.usable` written out inline,
        because a method call is a measurable share of a warm request.

        `claim` is `d` normalised, `referer` the Referer's class (binding.decide)."""
        entry = self.entries.get(shop_id)
        if entry is None or now >= entry.refresh_at or now - self.cache.fresh_at > self.stale_limit:
            return None
        site = binding.decide(entry.certified, entry.domains, referer, claim)
        return entry.variants.get((shop_id, fmt, lang, size, scale, site))

    async def get(
        self,
        shop_id: str,
        fmt: Format,
        lang: Lang,
        size: Size,
        scale: int,
        claim: str | None,
        referer: str | None,
    ) -> Rendered:
        try:
            entry = await self.shop_entry(shop_id)
        except Exception:
            # The registry is unreachable and our copy is too old to trust.
            return await self._unknown_badge("unavailable", fmt, lang, size, scale)
        if entry.shop is None:
            return await self._unknown_badge("unknown", fmt, lang, size, scale)
        decision = decide(entry.shop, entry.state, lang, size, referer, claim)
        key: VariantKey = (shop_id, fmt, lang, size, scale, decision.site)
        return await self.variant(entry, key, decision.view)

    async def variant(
        self, entry: Entry, key: VariantKey, view: BadgeView | None = None
    ) -> Rendered:
        """One variant of a loaded shop, rendered and signed the first time it is asked for."""
        rendered = entry.variants.get(key)
        if rendered is None:
            shop = entry.shop
            assert shop is not None
            _, fmt, lang, size, scale, site = key
            if view is None:
                view = badge_view(shop, entry.state, site, lang, size)
            token = self.loader.variant_token(entry, site)
            body = await self.renderer.render(view, fmt, scale, token)
            surrogate = surrogate_headers(shop.id)
            rendered = await self.renderer.build(200, body, fmt, self.cache_control, surrogate)
            entry.variants[key] = rendered
        return rendered

    async def shop_entry(self, shop_id: str) -> Entry:
        """The live state for badges, pages and APIs, loaded at most once per shop at a time."""
        if not rules.is_shop_id(shop_id) or self.cache.is_unknown(shop_id):
            return UNKNOWN
        entry = self.entries.get(shop_id)
        if entry is not None and self.cache.usable(entry, self.clock()):
            return entry
        return await self.cache.load(shop_id, self.loader.fetch)

    async def _unknown_badge(
        self,
        kind: Literal["unknown", "unavailable"],
        fmt: Format,
        lang: Lang,
        size: Size,
        scale: int,
    ) -> Rendered:
        cache_key = (kind, fmt, lang, size, scale)
        rendered = self._generic.get(cache_key)
        if rendered is None:
            body = await self.renderer.render(unknown_view(lang, size), fmt, scale, None)
            status = 404 if kind == "unknown" else 503
            surrogate = surrogate_headers(None)
            rendered = await self.renderer.build(status, body, fmt, SHORT_CACHE, surrogate)
            self._generic[cache_key] = rendered
        return rendered

    async def error_badge(self, kind: ErrorKind, fmt: Format, lang: Lang) -> Rendered:
        """One of the few prepared error badges: a fixed text per kind, never the bad value,
        so no request can make us render (or keep) anything new."""
        cache_key = (kind, fmt, lang)
        rendered = self._errors.get(cache_key)
        if rendered is None:
            body = await self.renderer.render(error_view(kind, lang), fmt, 1, None)
            rendered = await self.renderer.build(400, body, fmt, b"no-store", ())
            self._errors[cache_key] = rendered
        return rendered
