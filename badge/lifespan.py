"""The lifespan: every resource the app holds, opened at start and closed at shutdown.

Start order matters: the render worker starts first, as it takes longest, and meanwhile the
registry, keys and fonts open (a badge request needs them); then Redis and the badge
service built with all of them, then the background tasks (change feed, sightings flush,
edge purges, key sharing, the Redis bus, preparing variants, domain ownership checks).
Readiness waits for the worker, not for the background tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup

from badge.platform import bus, feed
from badge.platform.caches import CacheSet
from badge.platform.http import Codings
from badge.platform.keyshare import KeyShare
from badge.platform.metrics import CacheCollector, Metrics, ProofCollector, RateLimitCollector
from badge.platform.purge import EdgePurger
from badge.platform.ratelimit import RateLimiter
from badge.proofs import job as proof_job
from badge.proofs.check import Checker
from badge.registry.base import Registry
from badge.registry.factory import open_registry
from badge.render.fonts import load_fonts
from badge.render.pool import RenderPool
from badge.serving import warmup
from badge.serving.hotpath import HotPathStats
from badge.serving.service import BadgeService
from badge.settings import Settings
from badge.signing import KeyStore
from badge.state import AppServices
from badge.web.assets import load_assets

if TYPE_CHECKING:
    from redis.asyncio import Redis

logger = logging.getLogger("badge")


@dataclass(slots=True)
class Resources:
    settings: Settings
    stats: HotPathStats
    registry: Registry
    keys: KeyStore
    badges: BadgeService
    purger: EdgePurger
    pool: RenderPool | None
    redis: Redis | None
    keyshare: KeyShare | None
    checker: Checker
    state: AppServices

    def run(self, tasks: TaskGroup) -> None:
        """The background tasks; each runs until the lifespan's task group is cancelled."""
        badges = self.badges
        tasks.start_soon(feed.poll_registry, self.settings, self.registry, self.keys, badges)
        tasks.start_soon(feed.flush_sightings, self.registry, badges, self.stats)
        tasks.start_soon(self.purger.run)
        tasks.start_soon(warmup.run, badges, self.registry)
        tasks.start_soon(
            proof_job.run, self.registry, self.checker, badges.changed, badges.internal_error
        )
        if self.keyshare is not None:
            tasks.start_soon(self.keyshare.run)
        if self.redis is not None:
            tasks.start_soon(
                bus.listen, self.settings, badges.on_bus_message, badges.entries.mark_fresh,
                badges.entries.set_bus_status,
            )  # fmt: skip

    async def close(self) -> None:
        if self.pool is not None:
            await anyio.to_thread.run_sync(self.pool.close)
        await feed.flush_once(self.registry, self.badges, self.stats)
        await anyio.to_thread.run_sync(self.registry.close)
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.aclose()


async def open_resources(settings: Settings, stats: HotPathStats, caches: CacheSet) -> Resources:
    pool = RenderPool(settings.render_processes) if settings.render_processes else None
    # The render worker takes about a second to start (a new interpreter that imports cairo
    # and parses the fonts); it starts first, while this process does its own part.
    starting = None if pool is None else asyncio.ensure_future(asyncio.to_thread(pool.start))
    try:
        registry = await anyio.to_thread.run_sync(open_registry, settings)
        keys = KeyStore(settings.keys_dir, token_ttl=settings.token_ttl)
        if await anyio.to_thread.run_sync(keys.ensure):
            logger.info("made the first signing key %s in %s", keys.signing_kid, settings.keys_dir)
        # Parsing the fonts takes about half a second: pay it at start, not on a badge request.
        await anyio.to_thread.run_sync(load_fonts)
        await anyio.to_thread.run_sync(load_assets)
        if starting is not None:
            await asyncio.shield(starting)
    except BaseException:
        if pool is not None and starting is not None:
            # A thread cannot be cancelled: let the start end, then stop what it started.
            await asyncio.wait([starting])
            if not starting.cancelled():
                starting.exception()  # retrieved: the error that counts is the one raised
            pool.close(wait=False)
        raise
    purger = EdgePurger(settings.purge_urls)
    redis = bus.make_client(settings) if settings.redis_url is not None else None
    shared = None if redis is None else bus.SharedCache(settings, redis)
    purge = purger.purge if settings.purge_urls else None
    badges = BadgeService(
        settings, registry, keys, caches=caches, shared=shared, pool=pool, purge=purge
    )
    keyshare = None if shared is None else KeyShare(shared, keys)
    if keyshare is not None:
        await keyshare.start()
    limiter = RateLimiter(settings, redis)
    checker = Checker(settings)
    collectors = (
        RateLimitCollector(limiter),
        ProofCollector(checker.stats),
        CacheCollector(caches),
    )
    state: AppServices = {
        "settings": settings,
        "registry": registry,
        "keys": keys,
        "badges": badges,
        "codings": Codings(caches),
        "metrics": Metrics(
            stats, badges, purger, *collectors, registry=registry, keyshare=keyshare
        ),
        "ratelimit": limiter,
        "checker": checker,
    }
    return Resources(
        settings, stats, registry, keys, badges, purger, pool, redis, keyshare, checker, state
    )


def make_lifespan(
    settings: Settings, stats: HotPathStats, caches: CacheSet
) -> Callable[[Any], AbstractAsyncContextManager[AppServices]]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[AppServices]:
        resources = await open_resources(settings, stats, caches)
        # Startup objects (font tables, keys) live for ever: freezing them keeps the cyclic
        # garbage collector from re-scanning them during request bursts.
        gc.collect()
        gc.freeze()
        try:
            async with anyio.create_task_group() as tasks:
                resources.run(tasks)
                yield resources.state
                tasks.cancel_scope.cancel()
        finally:
            await resources.close()

    return lifespan
