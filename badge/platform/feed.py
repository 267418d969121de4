"""Background work owned by the lifespan: the registry change feed and the sightings flush."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator

import anyio

from badge.registry import rules
from badge.registry.base import Registry
from badge.registry.unreachable import UNREACHABLE_ERRORS
from badge.serving import sightings
from badge.serving.hotpath import HotPathStats
from badge.serving.service import BadgeService
from badge.serving.warm import Sighted
from badge.settings import Settings
from badge.signing import KeyStore

logger = logging.getLogger("badge.feed")

SIGHTINGS_INTERVAL = 5.0
MAX_FLUSH_LOOKUPS = 200
# Hosts normalised between two yields to the event loop: about 0.2 ms of work, so a flush
# during a flood of one-off hosts delays a badge by no more than that (500 took 1 ms).
FLUSH_SLICE = 100
# Host names that are not plain ASCII, normalised with IDNA per flush; the rest are dropped.
IDNA_PER_FLUSH = 500
SKIPPED_LOG_INTERVAL = 60.0


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
                # One trip to a worker thread per poll: each one is a GIL hand-over that
                # the event loop pays for between requests.
                cursor, changed, rotated = await anyio.to_thread.run_sync(
                    _poll_once, registry, keys, cursor, abandon_on_cancel=True
                )
                if rotated:
                    # A rotated key signs from now on; re-sign cached badges.
                    badges.invalidate_all()
            for shop_id in changed:
                badges.invalidate(shop_id)
            badges.entries.mark_fresh()
            if failing:
                logger.warning("registry change feed recovered")
                failing = False
        except UNREACHABLE_ERRORS as exc:
            if not failing:
                logger.error("registry change feed failing: %s", type(exc).__name__)
                failing = True
        except Exception:
            # A bug, not an outage: its traceback and a count, once a streak (the feed tries
            # again every poll, and cached states age out meanwhile, as in an outage).
            if not failing:
                badges.internal_error("registry change feed failing on an unexpected error")
                failing = True
        await anyio.sleep(settings.poll_interval)


def _poll_once(registry: Registry, keys: KeyStore, cursor: int) -> tuple[int, list[str], bool]:
    """The registry's changes since `cursor`, and whether the signing keys changed on disk."""
    cursor, changed = registry.changes_since(cursor)
    return cursor, changed, keys.reload_if_changed()


async def flush_sightings(registry: Registry, badges: BadgeService, stats: HotPathStats) -> None:
    skipped, told = 0, time.monotonic()
    while True:
        await anyio.sleep(SIGHTINGS_INTERVAL)
        try:
            skipped += await flush_once(registry, badges, stats)
        except UNREACHABLE_ERRORS as exc:
            logger.error("could not record badge sightings: %s", type(exc).__name__)
        except Exception:
            badges.internal_error("could not record badge sightings: unexpected error")
        # A flood of host names is worth a line, not a line every flush.
        if skipped and time.monotonic() - told >= SKIPPED_LOG_INTERVAL:
            logger.warning(
                "sightings: %d odd or one-off host names over the bounds not recorded in the "
                "last %d s (a flood of made-up d= or Referer values?)",
                skipped,
                round(time.monotonic() - told),
            )
            skipped, told = 0, time.monotonic()


async def flush_once(registry: Registry, badges: BadgeService, stats: HotPathStats) -> int:
    """Normalise and group the hosts counted since the last flush, then write them.

    Everything on the event loop runs in slices of FLUSH_SLICE hosts with a yield between
    them, and IDNA (the only costly normalisation) is bounded per flush, so a flood of
    distinct host names delays no badge by more than a slice. Registry reads and the write
    run in threads.
    """
    # Repeat requests first: past a cap, the collector drops hosts seen once in a batch.
    repeated = stats.take_sightings()
    if not repeated and not stats.sightings:
        return 0
    drained = itertools.chain(repeated, stats.sightings.drain())
    domains: dict[str, frozenset[str]] = {}
    collector = sightings.Collector(domains, IDNA_PER_FLUSH)
    later: list[Raw] = []
    entries = badges.entries
    for n, item in enumerate(_raw(drained), 1):
        shop_id = item[0]
        if shop_id not in domains:
            entry = entries.current(shop_id)
            if entry is None or entry.shop is None:
                later.append(item)  # its domains come from the registry, below
                continue
            domains[shop_id] = entry.domains
        collector.add(*item)
        if n % FLUSH_SLICE == 0:
            await anyio.sleep(0)
    if later:
        # Dropped from the cache since (a change, say): ask the registry, a bounded number
        # of times, and only for ids that could be shops.
        wanted = sorted({item[0] for item in later if rules.is_shop_id(item[0])})
        found = await anyio.to_thread.run_sync(_domains, registry, wanted[:MAX_FLUSH_LOOKUPS])
        domains.update(found)
        for n, item in enumerate(later, 1):
            collector.add(*item)
            if n % FLUSH_SLICE == 0:
                await anyio.sleep(0)
    stats.drop_sightings("bounds", collector.skipped)
    if collector.batch:
        try:
            await anyio.to_thread.run_sync(registry.record_sightings, collector.batch)
        except Exception:
            hosts = sum(len(group) for group in collector.batch.values())
            stats.drop_sightings("write_failed", hosts)
            raise
    return collector.skipped


Raw = tuple[str, sightings.Source, str, int]


def _raw(drained: Iterator[tuple[Sighted, int]]) -> Iterator[Raw]:
    """Each counted request's hits, once for its Referer host and once for its `d`."""
    for (shop_id, netloc, claim), hits in drained:
        if netloc is not None:
            yield shop_id, "referer", netloc.decode("latin-1"), hits
        if claim is not None:
            yield shop_id, "claim", claim, hits


def _domains(registry: Registry, shop_ids: list[str]) -> dict[str, frozenset[str]]:
    found = {}
    for shop_id in shop_ids:
        shop = registry.get_shop(shop_id)
        if shop is not None:
            found[shop_id] = frozenset(shop.domains)
    return found
