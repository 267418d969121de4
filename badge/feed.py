"""Background work owned by the lifespan: the registry change feed and the sightings flush."""

from __future__ import annotations

import logging

import anyio

from badge import sightings
from badge.badges import BadgeService
from badge.hotpath import HotPathStats
from badge.registry import rules
from badge.registry.base import Registry
from badge.settings import Settings
from badge.signing import KeyStore

logger = logging.getLogger("badge.feed")

SIGHTINGS_INTERVAL = 5.0
MAX_FLUSH_LOOKUPS = 200


async def poll_registry(
    settings: Settings, registry: Registry, keys: KeyStore, badges: BadgeService
) -> None:
    """Follow the registry's change feed, so a CLI change in another process lands within 1 s.

    Each successful poll also renews the freshness of everything cached; when polling fails,
    cached states age out after BADGE_STALE_LIMIT seconds.
    """
    cursor = await anyio.to_thread.run_sync(registry.change_cursor)
    failing = False
    while True:
        try:
            with anyio.fail_after(max(1.0, settings.poll_interval * 4)):
                cursor, changed = await anyio.to_thread.run_sync(
                    registry.changes_since, cursor, abandon_on_cancel=True
                )
                if await anyio.to_thread.run_sync(keys.reload_if_changed, abandon_on_cancel=True):
                    # A rotated key signs from now on; re-sign cached badges.
                    badges.invalidate_all()
            for shop_id in changed:
                badges.invalidate(shop_id)
            badges.mark_fresh()
            if failing:
                logger.warning("registry change feed recovered")
                failing = False
        except Exception as exc:
            if not failing:
                logger.error("registry change feed failing: %s", type(exc).__name__)
                failing = True
        await anyio.sleep(settings.poll_interval)


async def flush_sightings(registry: Registry, badges: BadgeService, stats: HotPathStats) -> None:
    while True:
        await anyio.sleep(SIGHTINGS_INTERVAL)
        try:
            await flush_once(registry, badges, stats)
        except Exception as exc:
            logger.error("could not record badge sightings: %s", type(exc).__name__)


async def flush_once(registry: Registry, badges: BadgeService, stats: HotPathStats) -> None:
    referers = stats.referer_sightings.drain()
    claims = stats.claim_sightings.drain()
    if not referers and not claims:
        return
    entries = badges.entries
    lookups = 0

    def domains_of(shop_id: str) -> frozenset[str] | None:
        nonlocal lookups
        entry = entries.get(shop_id)
        if entry is not None and entry.shop is not None:
            return entry.domains
        # Dropped from the cache since (a change, say): ask the registry, a bounded number
        # of times, and only for ids that could be shops.
        if lookups >= MAX_FLUSH_LOOKUPS or not rules.is_shop_id(shop_id):
            return None
        lookups += 1
        shop = registry.get_shop(shop_id)
        return None if shop is None else frozenset(shop.domains)

    def work() -> None:
        # Host normalisation (IDNA) is CPU work: in a thread, never on the event loop.
        registry.record_sightings(sightings.collect(referers, claims, domains_of))

    await anyio.to_thread.run_sync(work)
