"""Per-client rate limits for uploads, lookups, reports and the admin API; never badges.
Which routes count against which bucket is the route table's rule (badge/web/routes.py).

Fixed windows: each (bucket, client) may make `limit` requests per `BADGE_RATE_WINDOW`
seconds. With Redis configured the counters are shared by every instance (one INCR per
request, expiring with the window); without it, or while Redis fails, each process
counts on its own, in a table that is emptied every window and never holds more than
MAX_TRACKED clients. A limited request gets a 429 with Retry-After, and is counted.

A client is its IP address; an IPv6 client is its /64, which one user usually holds whole.
"""

from __future__ import annotations

import ipaddress
import json
import math
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Literal, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from badge.platform.bus import CircuitBreaker
from badge.settings import Settings

if TYPE_CHECKING:
    from redis.asyncio import Redis

Bucket = Literal["uploads", "lookups", "admin", "report"]
BUCKETS: Final[tuple[Bucket, ...]] = ("uploads", "lookups", "admin", "report")
MAX_TRACKED: Final = 100_000
KEY_PREFIX: Final = "badge:rl"


def client_key(scope: Scope) -> str:
    client = scope.get("client")
    host = client[0] if client else ""
    if ":" in host:
        try:
            return str(ipaddress.IPv6Network((host, 64), strict=False).network_address) + "/64"
        except ValueError:
            return host[:64]
    return host[:64]


class RateLimiter:
    def __init__(
        self,
        settings: Settings,
        redis_client: Redis | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.window = settings.rate_window
        self.limits: dict[str, int] = {
            "uploads": settings.rate_uploads,
            "lookups": settings.rate_lookups,
            "admin": settings.rate_admin,
            "report": settings.rate_reports,
        }
        self.redis = redis_client
        self.timeout = settings.redis_timeout
        self.clock = clock
        self.breaker = CircuitBreaker()
        self.limited: Counter[str] = Counter()
        self._local_window = -1
        self._local: dict[tuple[str, str], int] = {}

    @property
    def redis_errors(self) -> int:
        return self.breaker.errors

    async def check(self, bucket: str, client: str) -> float | None:
        """None when the request may go ahead; else the seconds until it may (Retry-After)."""
        limit = self.limits[bucket]
        if limit <= 0:
            return None
        now = self.clock()
        window = int(now // self.window)
        count = await self._count_shared(bucket, client, window)
        if count is None:
            count = self._count_local(bucket, client, window)
        if count <= limit:
            return None
        self.limited[bucket] += 1
        return max(1.0, float(math.ceil((window + 1) * self.window - now)))

    async def _count_shared(self, bucket: str, client: str, window: int) -> int | None:
        """The count kept in Redis; None (count in this process) while Redis fails."""
        redis = self.redis
        if redis is None:
            return None
        key = f"{KEY_PREFIX}:{bucket}:{window}:{client}"

        async def count() -> int:
            async with redis.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, self.window + 1)
                counted, _ = await pipe.execute()
            return int(counted)

        return await self.breaker.call(count, self.timeout * 2)

    def _count_local(self, bucket: str, client: str, window: int) -> int:
        if window != self._local_window:
            self._local.clear()
            self._local_window = window
        key = (bucket, client)
        count = self._local.get(key)
        if count is None:
            if len(self._local) >= MAX_TRACKED:
                # Bounded memory first: past this many clients in one window, new ones pass.
                return 1
            count = 0
        self._local[key] = count + 1
        return count + 1


class RouteRules(Protocol):
    """What the route table (badge/web/routes.py) says about a request's path."""

    @property
    def errors(self) -> str: ...

    def bucket(self, method: str, query: bytes) -> Bucket | None: ...


class RateLimit:
    """ASGI middleware in front of the router (behind the badge fast path, so badges are
    never limited); the limiter itself lives in the lifespan state. Which bucket a request
    counts against, if any, is its route's rule."""

    def __init__(self, app: ASGIApp, rules_for: Callable[[str], RouteRules]) -> None:
        self.app = app
        self.rules_for = rules_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            rules = self.rules_for(scope["path"])
            bucket = rules.bucket(scope["method"], scope["query_string"])
            limiter: RateLimiter | None = scope.get("state", {}).get("ratelimit")
            if bucket is not None and limiter is not None:
                retry_after = await limiter.check(bucket, client_key(scope))
                if retry_after is not None:
                    await too_many(send, rules.errors, bucket, retry_after)
                    return
        await self.app(scope, receive, send)


async def too_many(send: Send, errors: str, bucket: str, retry_after: float) -> None:
    seconds = int(retry_after)
    message = f"too many requests; try again in {seconds} s"
    if errors in ("api", "admin", "verdict"):
        data: dict[str, object] = {"error": "rate_limited", "message": message}
        if errors == "verdict":
            # The verify API always answers with a verdict's keys.
            data |= {
                "genuine": False,
                "shop_id": None,
                "expired": False,
                "certified_now": False,
                "reason": message,
            }
        body = json.dumps(data).encode()
        content_type = b"application/json"
    else:
        body = (message + "\n").encode()
        content_type = b"text/plain; charset=utf-8"
    start: Message = {
        "type": "http.response.start",
        "status": 429,
        "headers": [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(seconds).encode()),
            (b"cache-control", b"no-store"),
            (b"x-rate-limit-bucket", bucket.encode()),
        ],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})
