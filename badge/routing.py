"""One route per path, whatever its methods, so a 405 lists every method the path allows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]


def by_method(path: str, handlers: Mapping[str, Endpoint]) -> Route:
    """A route whose endpoint dispatches on the method (Starlette adds HEAD to GET)."""
    table = {method.upper(): handler for method, handler in handlers.items()}
    if "GET" in table:
        table.setdefault("HEAD", table["GET"])

    async def endpoint(request: Request) -> Response:
        return await table[request.method](request)

    return Route(path, endpoint, methods=list(table))
