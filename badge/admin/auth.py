"""Bearer tokens for the admin API, and the guard every admin request passes through.

Tokens are stored only as SHA-256 digests. The presented token is hashed and compared
with every stored digest in constant time, so timing tells nothing about which, if any,
digest came close.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Final

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from badge.errors import Unauthorized
from badge.platform.http import HttpMiddleware
from badge.registry.base import Registry

# Tokens from `badge tokens create` are about 47 characters; anything far longer is noise.
MAX_TOKEN_CHARS: Final = 512
CACHE_SECONDS: Final = 5.0
# A token that matches nothing triggers a reload, at most this often, so a token created a
# moment ago works at once while a flood of bad tokens cannot hammer the registry.
MISS_RELOAD_SECONDS: Final = 1.0
NO_STORE: Final = (b"cache-control", b"no-store")


class TokenCache:
    """The stored (name, digest) pairs, reloaded from the registry every few seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._digests: list[tuple[str, bytes]] = []
        self._loaded_at: float | None = None
        self._lock = anyio.Lock()

    async def _reload(self, registry: Registry, max_age: float) -> None:
        async with self._lock:
            # Another request may have reloaded while this one waited for the lock.
            if self._loaded_at is not None and self.clock() - self._loaded_at < max_age:
                return
            pairs = await anyio.to_thread.run_sync(registry.token_digests)
            self._digests = [(name, digest.lower().encode("ascii")) for name, digest in pairs]
            self._loaded_at = self.clock()

    async def identify(self, registry: Registry, token: str) -> str | None:
        """The name of the token, or None when it matches no stored digest."""
        presented = token_digest(token).encode("ascii")
        if self._loaded_at is None or self.clock() - self._loaded_at >= CACHE_SECONDS:
            await self._reload(registry, CACHE_SECONDS)
        name = match(self._digests, presented)
        if name is None and self.clock() - (self._loaded_at or 0.0) >= MISS_RELOAD_SECONDS:
            await self._reload(registry, MISS_RELOAD_SECONDS)
            name = match(self._digests, presented)
        return name


def token_digest(token: str) -> str:
    """How a token is stored: its SHA-256, never the token itself."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def match(digests: list[tuple[str, bytes]], presented: bytes) -> str | None:
    # No early exit: every digest is compared, whether or not one already matched.
    found: str | None = None
    for name, digest in digests:
        if hmac.compare_digest(digest, presented) and found is None:
            found = name
    return found


def bearer_token(headers: Headers) -> str | None:
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
        return None
    if not token.isascii() or not token.isprintable() or " " in token:
        return None
    return token


class AdminGuard(HttpMiddleware):
    """Pure ASGI, around everything under /admin/api/v1.

    It authenticates before routing, so an anonymous client learns nothing about which
    paths exist; it records the caller as `scope["admin_actor"]`; and it marks every
    response `no-store`, including the 404 and 405 answers the router raises.
    """

    def __init__(self, app: ASGIApp, tokens: TokenCache) -> None:
        super().__init__(app)
        self.tokens = tokens

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = bearer_token(Headers(scope=scope))
        name = None
        if token is not None:
            name = await self.tokens.identify(scope["state"]["registry"], token)
        if name is None:
            raise Unauthorized(
                "send an admin API token as `Authorization: Bearer <token>`"
                if token is None
                else "this token is not valid",
                headers={"www-authenticate": 'Bearer realm="keurmerk-admin"'},
            )
        scope["admin_actor"] = f"api:{name}"

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"cache-control"]
                headers.append(NO_STORE)
                message = {**message, "headers": headers}
            await send(message)

        # The router's 404 and 405 under this prefix, and every refusal, go to the one
        # error handler (badge/web/error_responses.py), which answers /admin/ in JSON, no-store.
        await self.app(scope, receive, send_no_store)
