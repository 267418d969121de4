"""Variants prepared before anyone asks: at start, and right after a shop changes.

After a change (or a key rotation) the shop's old entry tells which variants its pages
were loading; they are rendered again for the new state, one at a time, in the background,
so the first badge request after a change finds them ready. At start, the busiest
registered sites from the stored sightings get their default badge. PNG pixels are drawn
in the render worker; readiness never waits for any of this.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Final

import anyio

from badge.registry.base import Registry
from badge.registry.unreachable import UNREACHABLE_ERRORS
from badge.render.pool import RENDER_ERRORS
from badge.serving.entries import Entry
from badge.serving.variants import VariantKey, retarget
from badge.vocabulary import DEFAULT_LANG, DEFAULT_SIZE, Format, Lang, Size

if TYPE_CHECKING:
    from badge.serving.service import BadgeService

logger = logging.getLogger("badge.warmup")

START_SIGHTINGS: Final = 200
MAX_WANTS_PER_SHOP: Final = 32
MAX_WANTED_SHOPS: Final = 5000
# A variant to prepare after a change: (format, language, size, scale, site class before).
Want = tuple[Format, Lang, Size, int, str]


class WarmupQueue:
    """The variants the pages of changed shops were loading, bounded, until prepared."""

    def __init__(self) -> None:
        self._wanted: dict[str, set[Want]] = {}
        self._event = asyncio.Event()
        self._prepared = 0

    @property
    def prepared(self) -> int:
        """Variants prepared so far (for /metrics)."""
        return self._prepared

    def want(self, dropped: Entry | None) -> None:
        """An entry a change dropped: its variants are wanted again, for the new state."""
        if dropped is None or dropped.shop is None or not dropped.variants:
            return
        shop_id = dropped.shop.id
        if shop_id not in self._wanted and len(self._wanted) >= MAX_WANTED_SHOPS:
            return
        wants = self._wanted.setdefault(shop_id, set())
        for _, fmt, lang, size, scale, site in dropped.variants:
            if len(wants) >= MAX_WANTS_PER_SHOP:
                break
            wants.add((fmt, lang, size, scale, site))
        self._event.set()

    async def next(self) -> tuple[str, set[Want]]:
        """The next shop with wanted variants, waiting for one if there is none."""
        while not self._wanted:
            await self._event.wait()
            self._event.clear()
        return self._wanted.popitem()

    def count_prepared(self) -> None:
        self._prepared += 1


async def run(badges: BadgeService, registry: Registry) -> None:
    """The lifespan's background task: prepare what start-up knows, then follow changes."""
    try:
        await prepare_from_sightings(badges, registry)
    except UNREACHABLE_ERRORS as exc:
        logger.warning("could not prepare badges from sightings: %s", type(exc).__name__)
    except Exception:
        badges.internal_error("could not prepare badges from sightings")
    while True:
        shop_id, wants = await badges.warmup.next()
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
        entry = await badges.entries.entry(shop_id)
    except UNREACHABLE_ERRORS:
        return  # the registry is down: requests will report it
    except Exception:
        badges.internal_error("could not load shop %s to prepare its badges", shop_id)
        return
    if entry.shop is None:
        return
    keys: dict[VariantKey, None] = {}
    for fmt, lang, size, scale, site in sorted(wants):
        for target in retarget(site, entry.certified, entry.sites):
            keys[(shop_id, fmt, lang, size, scale, target)] = None
    for key in keys:
        if badges.entries.current(shop_id) is not entry:
            return  # changed again meanwhile: that change brings its own wants
        try:
            await badges.variant(entry, key)
        except (*UNREACHABLE_ERRORS, *RENDER_ERRORS) as exc:
            logger.warning("could not prepare a badge of %s: %s", shop_id, type(exc).__name__)
        except Exception:
            badges.internal_error("could not prepare a badge of %s", shop_id)
        badges.warmup.count_prepared()
        await anyio.sleep(0)
