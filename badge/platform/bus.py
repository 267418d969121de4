"""Redis: the cache shared by instances, and the bus that carries invalidations.

Redis is an accelerator, never a dependency a request waits on: every call has a short
timeout, no retries, and a circuit breaker stops asking while Redis is down.

redis-py is imported when a client is made: an instance without Redis never loads it
(a third of a second of every start).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from badge.registry.model import Shop, shop_from_record, shop_to_record
from badge.settings import Settings

if TYPE_CHECKING:
    import redis
    from redis.asyncio import Redis
    from redis.asyncio.client import Pipeline as AsyncPipeline

    P = TypeVar("P", redis.client.Pipeline, AsyncPipeline)

logger = logging.getLogger("badge.bus")

CHANNEL: Final = "badge:invalidate"
ALL: Final = "*"
VALUE_TTL: Final = 3600
T = TypeVar("T")


def shop_key(shop_id: str) -> str:
    return f"badge:shop:{shop_id}"


def generation_key(shop_id: str) -> str:
    return f"badge:gen:{shop_id}"


def queue_change(pipe: P, shop_id: str) -> P:
    """One change, as every instance learns it: a new generation voids any shared copy
    stored from older reads, the copy goes, and subscribers drop their own."""
    pipe.incr(generation_key(shop_id))
    pipe.delete(shop_key(shop_id))
    pipe.publish(CHANNEL, shop_id)
    return pipe


def make_client(settings: Settings, *, for_pubsub: bool = False) -> Redis:
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    assert settings.redis_url is not None
    timeout = settings.redis_timeout
    return Redis.from_url(
        settings.redis_url.reveal(),
        socket_connect_timeout=timeout,
        # Pub/sub waits for messages with its own timeout; commands get the short one.
        socket_timeout=None if for_pubsub else timeout,
        # redis-py retries three times with backoff by default; a request must not wait for that.
        retry=Retry(NoBackoff(), 0),
        retry_on_error=[],
        health_check_interval=0,
        max_connections=64,
    )


class CircuitBreaker:
    """Closed until a failure; then open for a backoff (1 s doubling to 15 s), then one probe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.open_until = 0.0
        self.backoff = 0.0
        # Calls that failed or timed out.
        self.errors = 0

    async def call(self, make: Callable[[], Awaitable[T]], timeout: float) -> T | None:
        """`make()`'s result, or None at once while open, or None when it fails or outlasts
        `timeout`: Redis is an accelerator, so any failure means "go on without it"."""
        if self.is_open:
            return None
        try:
            result = await asyncio.wait_for(make(), timeout=timeout)
        except Exception as exc:
            self.errors += 1
            self.failure()
            logger.debug("redis call failed: %s", type(exc).__name__)
            return None
        self.success()
        return result

    @property
    def is_open(self) -> bool:
        return self.clock() < self.open_until

    def success(self) -> None:
        if self.backoff:
            logger.warning("redis is reachable again")
        self.backoff = 0.0
        self.open_until = 0.0

    def failure(self) -> None:
        if not self.backoff:
            logger.error("redis is failing; serving from memory and the registry")
        self.backoff = min(15.0, self.backoff * 2 if self.backoff else 1.0)
        self.open_until = self.clock() + self.backoff


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A shop (or None for an unknown id) with the token every instance serves for it."""

    shop: Shop | None
    token: str | None
    token_exp: float


class SharedCache:
    def __init__(self, settings: Settings, client: Redis) -> None:
        self.settings = settings
        self.client = client
        self.breaker = CircuitBreaker()

    @property
    def errors(self) -> int:
        return self.breaker.errors

    async def _call(self, make: Callable[[], Awaitable[T]]) -> T | None:
        # Belt and braces: the socket timeout should fire first.
        return await self.breaker.call(make, self.settings.redis_timeout * 2)

    async def generation(self, shop_id: str) -> bytes:
        """Read before the registry: a change in between bumps it and voids what we store."""
        value = await self._call(lambda: self.client.get(generation_key(shop_id)))
        return value if isinstance(value, bytes) else b"0"

    async def get(self, shop_id: str) -> Snapshot | None:
        values = await self._call(
            lambda: self.client.mget([generation_key(shop_id), shop_key(shop_id)])
        )
        if not values or values[1] is None:
            return None
        generation = values[0] if isinstance(values[0], bytes) else b"0"
        try:
            data: dict[str, Any] = json.loads(values[1])
            if data["gen"] != generation.decode():
                return None
            shop = None if data["shop"] is None else shop_from_record(data["shop"])
            return Snapshot(shop=shop, token=data["token"], token_exp=float(data["token_exp"]))
        except (ValueError, KeyError, TypeError):
            return None

    async def put(self, shop_id: str, generation: bytes, snapshot: Snapshot) -> None:
        value = json.dumps(
            {
                "gen": generation.decode(),
                "shop": None if snapshot.shop is None else shop_to_record(snapshot.shop),
                "token": snapshot.token,
                "token_exp": snapshot.token_exp,
            }
        )
        await self._call(lambda: self.client.set(shop_key(shop_id), value, ex=VALUE_TTL))

    async def publish_change(self, shop_id: str) -> bool:
        """Bump the generation, drop the shared copy, tell all instances; False if Redis is down."""

        async def work() -> bool:
            await queue_change(self.client.pipeline(transaction=True), shop_id).execute()
            return True

        return await self._call(work) is True


async def listen(
    settings: Settings,
    on_invalidate: Callable[[str], None],
    on_healthy: Callable[[], None],
    on_status: Callable[[str], None] = lambda status: None,
) -> None:
    """Follow the invalidation channel for ever, resubscribing after any failure."""
    backoff = 0.5
    down_since: float | None = None
    while True:
        client = make_client(settings, for_pubsub=True)
        pubsub = client.pubsub()
        try:
            await asyncio.wait_for(pubsub.subscribe(CHANNEL), timeout=settings.redis_timeout * 4)
            # Messages may have been missed while we were away: drop everything cached.
            on_invalidate(ALL)
            on_status("subscribed")
            if down_since is None:
                logger.info("subscribed to %s", CHANNEL)
            else:
                logger.warning("invalidation bus back after %.1f s", time.monotonic() - down_since)
                down_since = None
            backoff = 0.5
            last_seen = time.monotonic()
            last_ping = 0.0
            while True:
                now = time.monotonic()
                if now - last_ping >= 1.0:
                    await asyncio.wait_for(pubsub.ping(), timeout=settings.redis_timeout * 4)
                    last_ping = now
                message = await pubsub.get_message(timeout=0.5)
                if message is not None:
                    last_seen = time.monotonic()
                    if message.get("type") == "message":
                        data = message["data"]
                        on_invalidate(data.decode() if isinstance(data, bytes) else str(data))
                    on_healthy()
                elif time.monotonic() - last_seen > 3.0:
                    raise ConnectionError("no pong from redis for 3 s")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            on_status("down")
            # Once per outage at ERROR; the retries in between only at DEBUG.
            if down_since is None:
                down_since = time.monotonic()
                logger.error("invalidation bus down (%s); retrying", type(exc).__name__)
            else:
                logger.debug("invalidation bus still down (%s)", type(exc).__name__)
        finally:
            try:
                await asyncio.wait_for(pubsub.aclose(), timeout=0.5)
                await asyncio.wait_for(client.aclose(), timeout=0.5)
            except Exception:  # noqa: S110 - the connection is already broken
                pass
        await asyncio.sleep(backoff)
        backoff = min(2.0, backoff * 2)


def publish_invalidation_sync(settings: Settings, shop_id: str) -> None:
    """For the CLI: the same change as `SharedCache.publish_change`, without an event loop."""
    import redis

    assert settings.redis_url is not None
    client = redis.Redis.from_url(
        settings.redis_url.reveal(),
        socket_connect_timeout=1.0,
        socket_timeout=1.0,
        retry=None,
    )
    try:
        queue_change(client.pipeline(transaction=True), shop_id).execute()
    finally:
        client.close()
