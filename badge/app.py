"""create_app(settings): routes, middleware and the lifespan that owns every resource."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from badge import bus, feed
from badge.admin import admin_routes
from badge.assets import load_assets, static_routes
from badge.badges import BadgeService
from badge.compression import Compression
from badge.embed import embed_routes
from badge.errors import BadgeError
from badge.home import home_routes
from badge.hotpath import BadgeHotPath, HotPathStats
from badge.http import DefaultCacheControl
from badge.keyshare import KeyShare
from badge.metrics import Metrics
from badge.openapi import openapi_routes
from badge.purge import EdgePurger
from badge.ratelimit import RateLimit, RateLimitCollector, RateLimiter
from badge.registry.factory import open_registry
from badge.render.pool import RenderPool
from badge.render.text import load_fonts
from badge.settings import Settings
from badge.signing import KeyStore
from badge.state import AppServices, app_state
from badge.verify.routes import verify_routes

logger = logging.getLogger("badge")


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok\n", headers={"cache-control": "no-store"})


async def readyz(request: Request) -> Response:
    state = app_state(request)
    checks: dict[str, str] = {}
    ok = True
    try:
        with anyio.fail_after(1.0):
            await anyio.to_thread.run_sync(state["registry"].ping, abandon_on_cancel=True)
        checks["registry"] = "ok"
    except Exception as exc:
        ok = False
        checks["registry"] = f"failing: {type(exc).__name__}"
    fresh = state["badges"].is_fresh(state["badges"].clock())
    checks["change_feed"] = "ok" if fresh else "stale"
    # Redis is an accelerator: its loss is reported but does not take the instance out.
    checks["redis_bus"] = state["badges"].bus_status
    ok = ok and fresh
    return JSONResponse(
        {"ready": ok, "checks": checks},
        status_code=200 if ok else 503,
        headers={"cache-control": "no-store"},
    )


async def jwks(request: Request) -> Response:
    state = app_state(request)
    return JSONResponse(
        state["keys"].jwks(),
        headers={
            "cache-control": "public, max-age=300",
            "access-control-allow-origin": "*",
            "x-content-type-options": "nosniff",
        },
    )


async def metrics(request: Request) -> Response:
    state = app_state(request)
    body, content_type = state["metrics"].render()
    return Response(body, media_type=content_type, headers={"cache-control": "no-store"})


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/", "/admin/")) or "application/json" in request.headers.get(
        "accept", ""
    )


async def badge_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadgeError)
    if wants_json(request):
        return JSONResponse(
            {"error": exc.code, "message": exc.message},
            status_code=exc.status,
            headers={"cache-control": "no-store"},
        )
    return PlainTextResponse(exc.message + "\n", status_code=exc.status)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if wants_json(request):
        return JSONResponse(
            {"error": "http_error", "message": exc.detail},
            status_code=exc.status_code,
            headers=exc.headers,
        )
    return PlainTextResponse(f"{exc.detail}\n", status_code=exc.status_code, headers=exc.headers)


def core_routes() -> list[BaseRoute]:
    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET", "HEAD"]),
    ]


class BadgeApp(Starlette):
    """Starlette with the badge fast path in front of its whole middleware stack.

    Badge requests are nearly all traffic; they skip the error middleware and router.
    An exception there still reaches uvicorn, which answers 500.
    """

    def __init__(self, *, stats: HotPathStats, **kwargs: Any) -> None:
        self.stats = stats
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        stack = DefaultCacheControl(RateLimit(super().build_middleware_stack()))
        return BadgeHotPath(stack, self.stats)


def create_app(settings: Settings) -> Starlette:
    stats = HotPathStats()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[AppServices]:
        registry = await anyio.to_thread.run_sync(open_registry, settings)
        keys = KeyStore(settings.keys_dir, token_ttl=settings.token_ttl)
        if await anyio.to_thread.run_sync(keys.ensure):
            logger.info("made the first signing key %s in %s", keys.signing_kid, settings.keys_dir)
        # Parsing the fonts takes about half a second: pay it at start, not on a badge request.
        await anyio.to_thread.run_sync(load_fonts)
        await anyio.to_thread.run_sync(load_assets)
        badges = BadgeService(settings, registry, keys)
        purger = EdgePurger(settings.purge_urls)
        if settings.purge_urls:
            badges.purge = purger.purge
        if settings.render_processes:
            badges.pool = RenderPool(settings.render_processes)
            await anyio.to_thread.run_sync(badges.pool.start)
        redis_client = None
        keyshare = None
        if settings.redis_url is not None:
            redis_client = bus.make_client(settings)
            badges.shared = bus.SharedCache(settings, redis_client)
            keyshare = KeyShare(badges.shared, keys)
            await keyshare.start()
        # Startup objects (font tables, keys) live for ever: freezing them keeps the cyclic
        # garbage collector from re-scanning them during request bursts.
        gc.collect()
        gc.freeze()
        limiter = RateLimiter(settings, redis_client)
        state: AppServices = {
            "settings": settings,
            "registry": registry,
            "keys": keys,
            "badges": badges,
            "metrics": Metrics(stats, badges, purger, RateLimitCollector(limiter)),
            "ratelimit": limiter,
        }
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(feed.poll_registry, settings, registry, keys, badges)
                tasks.start_soon(feed.flush_sightings, registry, badges, stats)
                tasks.start_soon(purger.run)
                if keyshare is not None:
                    tasks.start_soon(keyshare.run)
                if redis_client is not None:
                    tasks.start_soon(
                        bus.listen,
                        settings,
                        badges.on_bus_message,
                        badges.mark_fresh,
                        badges.set_bus_status,
                    )
                yield state
                tasks.cancel_scope.cancel()
        finally:
            if badges.pool is not None:
                await anyio.to_thread.run_sync(badges.pool.close)
            await feed.flush_once(registry, badges, stats)
            await anyio.to_thread.run_sync(registry.close)
            if redis_client is not None:
                with contextlib.suppress(Exception):
                    await redis_client.aclose()

    routes: list[BaseRoute] = [
        *core_routes(),
        *home_routes(),
        *verify_routes(),
        *embed_routes(),
        *admin_routes(),
        *openapi_routes(),
        *static_routes(),
    ]
    exception_handlers = {BadgeError: badge_error, HTTPException: http_error}
    return BadgeApp(
        stats=stats,
        routes=routes,
        # Badges skip it: the hot path sends coded forms prepared when each variant is built.
        middleware=[Middleware(Compression)],
        exception_handlers=exception_handlers,
        lifespan=lifespan,
    )


def app_from_env() -> Starlette:
    """The uvicorn factory for `badge serve`: settings are read here, at start, not at import."""
    return create_app(Settings.from_env())
