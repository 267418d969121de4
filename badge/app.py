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

from badge.admin import domains, reports
from badge.admin import shops as admin
from badge.admin.auth import AdminGuard, TokenCache
from badge.errors import BadgeError
from badge.lifespan import make_lifespan
from badge.platform.caches import CacheSet
from badge.platform.compression import Compression
from badge.platform.http import DefaultCacheControl
from badge.platform.ratelimit import RateLimit
from badge.serving.hotpath import BadgeHotPath, HotPathStats
from badge.serving.timing import RouteTimer
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
from badge.web.routes import ADMIN_PREFIX, ROUTES, cache_for, rules_for

logger = logging.getLogger("badge")
Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Endpoint | type[HTTPEndpoint]


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok\n")


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
    )


async def jwks(request: Request) -> Response:
    state = app_state(request)
    return JSONResponse(
        state["keys"].jwks(),
        headers={
            "access-control-allow-origin": "*",
            "x-content-type-options": "nosniff",
        },
    )


async def metrics(request: Request) -> Response:
    state = app_state(request)
    body, content_type = state["metrics"].render()
    return Response(body, media_type=content_type)


def endpoint(**handlers: Endpoint) -> type[HTTPEndpoint]:
    """One route for a path served by several handlers, dispatched by Starlette's
    HTTPEndpoint: HEAD follows GET, and a 405 lists every method the path allows."""
    return type("Endpoint", (HTTPEndpoint,), {m: staticmethod(h) for m, h in handlers.items()})


def handlers(caches: CacheSet) -> dict[str, Handler]:
    """The handler of each path in the route table (badge/web/routes.py), which holds the
    methods, the order and every other rule. `/b/{id}.svg|png`, nearly all traffic, has
    none: it is answered before routing by badge/serving/hotpath.py (BadgeApp below puts it
    in front).

    Built per app, so each app (and each test) has its own caches and upload limiter.
    """
    checker = BadgeChecker()
    pages = Pages(checker, HistoryCache(caches), caches)
    api = VerifyApi(checker)
    a = ADMIN_PREFIX
    return {
        "/": Home().page,
        "/favicon.ico": favicon,
        "/static/{path:path}": serve_static,
        "/v/{shop_id}": pages.shop,
        "/v/{shop_id}/report": submit_report,
        "/verify": endpoint(get=pages.lookup, post=pages.check),
        "/embed.js": EmbedScript().serve,
        "/embed/{shop_id}": embed_page,
        "/api/v1/shops/{shop_id}": api.shop,
        "/api/v1/lookup": api.lookup,
        "/api/v1/verify": api.verify,
        f"{a}/shops": endpoint(get=admin.list_shops, post=admin.create_shop),
        f"{a}/shops/{{shop_id}}": endpoint(get=admin.get_shop, patch=admin.update_shop),
        f"{a}/shops/{{shop_id}}/state": admin.set_state,
        f"{a}/shops/{{shop_id}}/history": admin.history,
        f"{a}/shops/{{shop_id}}/sightings": admin.shop_sightings,
        f"{a}/shops/{{shop_id}}/domains": domains.shop_domains,
        f"{a}/shops/{{shop_id}}/domains/{{domain}}/challenge": domains.challenge,
        f"{a}/shops/{{shop_id}}/domains/{{domain}}/check": domains.check,
        f"{a}/shops/{{shop_id}}/domains/{{domain}}/attest": domains.attest,
        f"{a}/domains": domains.list_domains,
        f"{a}/sightings": admin.sightings,
        f"{a}/reports/summary": admin.summary,
        f"{a}/reports": reports.list_reports,
        f"{a}/reports/{{report_id}}": reports.show_report,
        f"{a}/reports/{{report_id}}/close": reports.close_report,
        "/openapi.json": OpenApi().serve,
        "/healthz": healthz,
        "/readyz": readyz,
        "/metrics": metrics,
        "/.well-known/jwks.json": jwks,
    }


def routes(caches: CacheSet) -> list[BaseRoute]:
    """Starlette's routes, in the table's order; the admin API is mounted behind its guard
    (one token cache per app, made here rather than at import time)."""
    found = handlers(caches)
    top: list[BaseRoute] = []
    guarded: list[BaseRoute] = []
    mount_at = 0
    for spec in ROUTES:
        if spec.rules.fast == "hotpath":
            continue
        handler = found.pop(spec.path)
        # An HTTPEndpoint dispatches by method itself, and lists them all in a 405.
        methods = None if isinstance(handler, type) else list(spec.methods)
        if spec.path.startswith(ADMIN_PREFIX + "/"):
            mount_at = mount_at or len(top)
            guarded.append(Route(spec.path[len(ADMIN_PREFIX) :], handler, methods=methods))
        else:
            top.append(Route(spec.path, handler, methods=methods))
    if found:
        raise ValueError(f"handlers for paths the route table does not have: {sorted(found)}")
    guard = [Middleware(AdminGuard, tokens=TokenCache())]
    top.insert(mount_at, Mount(ADMIN_PREFIX, routes=guarded, middleware=guard))
    return top


class BadgeApp(Starlette):
    """Starlette with the badge fast path in front of its whole middleware stack.

    Badge requests are nearly all traffic; they skip the error middleware and router.
    An exception there still reaches uvicorn, which answers 500.
    """

    def __init__(self, *, stats: HotPathStats, caches: CacheSet, **kwargs: Any) -> None:
        self.stats = stats
        self.caches = caches
        self.raw_answers: BadgeHotPath | None = None
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        stack = RateLimit(super().build_middleware_stack(), rules_for)
        hot = BadgeHotPath(
            RouteTimer(DefaultCacheControl(stack, cache_for), self.stats), self.stats, self.caches
        )
        # What `badge serve`'s protocol may answer itself (badge/platform/server.py).
        self.raw_answers = hot
        return hot


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
