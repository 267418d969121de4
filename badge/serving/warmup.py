"""Variants prepared before anyone asks: at start, and right after a shop changes.

After a change (or a key rotation) the shop's old entry tells which variants its pages
were loading; they are rendered again for the new state, one at a time, in the background,
so the first badge request after a change finds them ready. At start, the busiest
registered sites from the stored sightings get their default badge. PNG pixels are drawn
in the render worker; readiness never waits for any of this.
"""

from __future__ import annotations

import logging
from typing import Final

import anyio

from badge.registry.base import Registry
from badge.serving.service import BadgeService, Want
from badge.serving.variants import VariantKey, retarget
from badge.vocabulary import DEFAULT_LANG, DEFAULT_SIZE

logger = logging.getLogger("badge.warmup")

START_SIGHTINGS: Final = 200


async def run(badges: BadgeService, registry: Registry) -> None:
    """The lifespan's background task: prepare what start-up knows, then follow changes."""
    try:
        await prepare_from_sightings(badges, registry)
    except Exception as exc:
        logger.warning("could not prepare badges from sightings: %s", type(exc).__name__)
    while True:
        await badges.wanted_event.wait()
        badges.wanted_event.clear()
        while badges.wanted:
            shop_id, wants = badges.wanted.popitem()
            await prepare(badges, shop_id, wants)


async def prepare_from_sightings(badges: BadgeService, registry: Registry) -> None:
    rows = await anyio.to_thread.run_sync(registry.sightings)
    wanted: dict[str, set[Want]] = {}
    for row in rows[:START_SIGHTINGS]:
        if row.source == "referer" and row.registered:
            wanted.setdefault(row.shop_id, set()).add(
                ("svg", DEFAULT_LANG, DEFAULT_SIZE, 1, row.host)
            )
    for shop_id, wants in wanted.items():
        await prepare(badges, shop_id, wants)


async def prepare(badges: BadgeService, shop_id: str, wants: set[Want]) -> None:
    """Render `wants` for the shop's current state; failures only cost the head start."""
    try:
        entry = await badges.shop_entry(shop_id)
    except Exception:
        return  # the registry is down: requests will report it
    if entry.shop is None:
        return
    keys: dict[VariantKey, None] = {}
    for fmt, lang, size, scale, site in sorted(wants):
        for target in retarget(site, entry.certified, entry.sites):
            keys[(shop_id, fmt, lang, size, scale, target)] = None
    for key in keys:
        if badges.entries.get(shop_id) is not entry:
            return  # changed again meanwhile: that change brings its own wants
        try:
            await badges.variant(entry, key)
        except Exception as exc:
            logger.warning("could not prepare a badge of %s: %s", shop_id, type(exc).__name__)
        badges.prepared_count += 1
        await anyio.sleep(0)
