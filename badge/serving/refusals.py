"""What the badge hot path answers a request it refuses: an error badge for a bad query
(the reason in a header only), a 405 for a method other than GET and HEAD."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final

from starlette.types import Message, Scope, Send

from badge.platform.http import IDENTITY
from badge.serving.query import BadRequestParam, lang_hint
from badge.serving.service import BadgeService
from badge.vocabulary import DEFAULT_LANG, Format

if TYPE_CHECKING:
    from badge.serving.hotpath import HotPathStats

_EMPTY_BODY: Final[Message] = {"type": "http.response.body", "body": b""}
_monotonic = time.monotonic


async def bad_query(
    scope: Scope,
    send: Send,
    service: BadgeService,
    bad: BadRequestParam,
    fmt: Format,
    stats: HotPathStats,
    route: str,
    started: float,
) -> None:
    """A prepared error badge; what was wrong with this request goes in a header only."""
    raw_query: bytes = scope["query_string"]
    lang = DEFAULT_LANG if bad.kind == "query" else lang_hint(raw_query)
    rendered = await service.renderer.error_badge(bad.kind, fmt, lang)
    stats.responses[rendered.status] += 1
    headers = (*rendered.headers, (b"x-badge-error", bad.header()))
    await send({"type": "http.response.start", "status": rendered.status, "headers": headers})
    body = rendered.forms[IDENTITY].body_message
    await send(_EMPTY_BODY if scope["method"] == "HEAD" else body)
    stats.observe(route, "error", rendered.status, _monotonic() - started)


async def not_allowed(send: Send, stats: HotPathStats, route: str, started: float) -> None:
    body = b"method not allowed\n"
    stats.responses[405] += 1
    start: Message = {
        "type": "http.response.start",
        "status": 405,
        "headers": (
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
            (b"allow", b"GET, HEAD"),
        ),
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})
    stats.observe(route, "error", 405, _monotonic() - started)
