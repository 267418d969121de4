"""The latency of every request the router answers, by the route template that answered it
(the badge hot path and prepared responses time their own)."""

from __future__ import annotations

import time

from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from badge.platform.http import HttpMiddleware
from badge.serving.hotpath import HotPathStats

_monotonic = time.monotonic


class RouteTimer(HttpMiddleware):
    """Times every request the router answers (the badge hot path and prepared responses
    time their own), by the route template that answered it."""

    def __init__(self, app: ASGIApp, stats: HotPathStats) -> None:
        super().__init__(app)
        self.stats = stats

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = _monotonic()
        root: str = scope.get("root_path", "")
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception:
            status = status or 500  # uvicorn answers 500 when nothing was sent
            raise
        finally:
            if status:
                self.stats.observe(_route_of(scope, root), "-", status, _monotonic() - started)


def _route_of(scope: Scope, root: str) -> str:
    """The route template that answered: Starlette leaves the route in the scope, and a
    mount adds its prefix to root_path. "unmatched" for anything else (a 404, a 429)."""
    route = scope.get("route")
    if isinstance(route, Mount):
        # Refused by the mount's middleware (the admin guard) before its own routes.
        return route.path + "/*"
    if isinstance(route, Route):
        mounted: str = scope.get("root_path", "")
        return mounted[len(root) :] + route.path
    return "unmatched"
