"""create_app(settings): the route table, middleware and the lifespan that owns every resource."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp

from badge.admin import reports
from badge.admin import shops as admin
from badge.admin.auth import AdminGuard, TokenCache
from badge.errors import BadgeError
from badge.lifespan import make_lifespan
from badge.platform.caches import CacheSet
from badge.platform.compression import Compression
from badge.platform.http import DefaultCacheControl
from badge.platform.ratelimit import RateLimit
from badge.serving.hotpath import BadgeHotPath, HotPathStats
from badge.settings import Settings
from badge.state import app_state
from badge.verify.api import BadgeChecker, VerifyApi
from badge.verify.lookup import HistoryCache
from badge.verify.pages import Pages
from badge.verify.report import submit_report
from badge.web.assets import serve_static
from badge.web.embed import EmbedScript, embed_page
from badge.web.error_responses import handle_exception
from badge.web.home import Home, favicon
from badge.web.openapi import OpenApi

logger = logging.getLogger("badge")
Endpoint = Callable[[Request], Awaitable[Response]]


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
    entries = state["badges"].entries.stats()
    fresh = entries.fresh
    checks["change_feed"] = "ok" if fresh else "stale"
    # Redis is an accelerator: its loss is reported but does not take the instance out.
    checks["redis_bus"] = entries.bus_status
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


def endpoint(**handlers: Endpoint) -> type[HTTPEndpoint]:
    """One route for a path served by several handlers, dispatched by Starlette's
    HTTPEndpoint: HEAD follows GET, and a 405 lists every method the path allows."""
    return type("Endpoint", (HTTPEndpoint,), {m: staticmethod(h) for m, h in handlers.items()})


def routes(caches: CacheSet) -> list[BaseRoute]:
    """Every route, in one place. `/b/{id}.svg|png`, nearly all traffic, is not here: it
    is answered before routing by badge/serving/hotpath.py (BadgeApp below puts it in front).

    Built per app, so each app (and each test) has its own caches and upload limiter.
    """
    checker = BadgeChecker()
    pages = Pages(checker, HistoryCache(caches), caches)
    api = VerifyApi(checker)
    get_head = ["GET", "HEAD"]
    return [
        Route("/", Home().page, methods=get_head),
        Route("/favicon.ico", favicon, methods=get_head),
        Route("/static/{path:path}", serve_static, methods=get_head),
        Route("/v/{shop_id}", pages.shop, methods=["GET"]),
        Route("/v/{shop_id}/report", submit_report, methods=["POST"]),
        Route("/verify", endpoint(get=pages.lookup, post=pages.check)),
        Route("/embed.js", EmbedScript().serve, methods=get_head),
        Route("/embed/{shop_id}", embed_page, methods=get_head),
        Route("/api/v1/shops/{shop_id}", api.shop, methods=["GET"]),
        Route("/api/v1/lookup", api.lookup, methods=["GET"]),
        Route("/api/v1/verify", api.verify, methods=["POST", "OPTIONS"]),
        Mount(
            admin.PREFIX,
            routes=[
                Route("/shops", endpoint(get=admin.list_shops, post=admin.create_shop)),
                Route("/shops/{shop_id}", endpoint(get=admin.get_shop, patch=admin.update_shop)),
                Route("/shops/{shop_id}/state", admin.set_state, methods=["POST"]),
                Route("/shops/{shop_id}/history", admin.history, methods=["GET"]),
                Route("/shops/{shop_id}/sightings", admin.shop_sightings, methods=["GET"]),
                Route("/sightings", admin.sightings, methods=["GET"]),
                # Before /reports/{report_id}, which would take "summary" for an id.
                Route("/reports/summary", admin.summary, methods=["GET"]),
                Route("/reports", reports.list_reports, methods=["GET"]),
                Route("/reports/{report_id}", reports.show_report, methods=["GET"]),
                Route("/reports/{report_id}/close", reports.close_report, methods=["POST"]),
            ],
            # One token cache per app, made here rather than at import time.
            middleware=[Middleware(AdminGuard, tokens=TokenCache())],
        ),
        Route("/openapi.json", OpenApi().serve, methods=get_head),
        Route("/healthz", healthz, methods=get_head),
        Route("/readyz", readyz, methods=get_head),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/.well-known/jwks.json", jwks, methods=get_head),
    ]


class BadgeApp(Starlette):
    """Starlette with the badge fast path in front of its whole middleware stack.

    Badge requests are nearly all traffic; they skip the error middleware and router.
    An exception there still reaches uvicorn, which answers 500.
    """

    def __init__(self, *, stats: HotPathStats, caches: CacheSet, **kwargs: Any) -> None:
        self.stats = stats
        self.caches = caches
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        stack = DefaultCacheControl(RateLimit(super().build_middleware_stack()))
        return BadgeHotPath(stack, self.stats, self.caches)


def create_app(settings: Settings) -> Starlette:
    stats = HotPathStats()
    # Every bounded cache of this app, by name, for /metrics.
    caches = CacheSet()

    exception_handlers = {BadgeError: handle_exception, HTTPException: handle_exception}
    return BadgeApp(
        stats=stats,
        caches=caches,
        routes=routes(caches),
        # Badges skip it: the hot path sends coded forms prepared when each variant is built.
        middleware=[Middleware(Compression, caches=caches)],
        exception_handlers=exception_handlers,
        lifespan=make_lifespan(settings, stats, caches),
    )


def app_from_env() -> Starlette:
    """The uvicorn factory for `badge serve`: settings are read here, at start, not at import."""
    return create_app(Settings.from_env())
