"""create_app(settings): routes, middleware and the lifespan that owns every resource."""

from __future__ import annotations

import logging
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from badge.admin import admin_routes
from badge.assets import static_routes
from badge.compression import Compression
from badge.embed import embed_routes
from badge.errors import BadgeError
from badge.home import home_routes
from badge.hotpath import BadgeHotPath, HotPathStats
from badge.http import DefaultCacheControl
from badge.lifespan import make_lifespan
from badge.openapi import openapi_routes
from badge.ratelimit import RateLimit
from badge.settings import Settings
from badge.state import app_state
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
        lifespan=make_lifespan(settings, stats),
    )


def app_from_env() -> Starlette:
    """The uvicorn factory for `badge serve`: settings are read here, at start, not at import."""
    return create_app(Settings.from_env())
