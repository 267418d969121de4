"""The badge fast path: `/b/{id}.svg|png` answered in pure ASGI, before the router.

Every request for a warm variant is a dict lookup and one `send` of precomputed headers
and bytes. Anything unusual (a miss, a bad parameter) falls to the slower code in badges.py.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Final, cast
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from badge.badges import BadgeService, Format, Rendered
from badge.i18n import DEFAULT_LANG, LANGS, Lang
from badge.render.svg import SIZES, Size

_SIZES: Final = frozenset(SIZES)
_LANGS: Final = frozenset(LANGS)
_SCALES: Final = {b"1": 1, b"2": 2, b"3": 3}
MAX_SIGHTING_KEYS: Final = 50_000
_EMPTY_BODY: Final[Message] = {"type": "http.response.body", "body": b""}
_monotonic = time.monotonic


class BadRequestParam(ValueError):
    pass


@dataclass(slots=True)
class HotPathStats:
    """Cheap counters, read by /metrics; a Prometheus call per request would cost more."""

    ok: int = 0
    responses: Counter[int] = field(default_factory=Counter)
    not_modified: int = 0
    # (shop id, host as seen) -> hits; flushed to the registry by a background task.
    sightings: Counter[tuple[str, str]] = field(default_factory=Counter)


class BadgeHotPath:
    def __init__(self, app: ASGIApp, stats: HotPathStats) -> None:
        self.app = app
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path[:3] != "/b/":
            await self.app(scope, receive, send)
            return
        suffix = path[-4:]
        if suffix == ".svg":
            fmt: Format = "svg"
        elif suffix == ".png":
            fmt = "png"
        else:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            await self._plain(send, 405, b"method not allowed\n", ((b"allow", b"GET, HEAD"),))
            return
        service: BadgeService = scope["state"]["badges"]
        shop_id = path[3:-4]
        query: bytes = scope["query_string"]
        lang: Lang = DEFAULT_LANG
        size: Size = "m"
        scale = 1
        host: str | None = None
        if query:
            try:
                lang, size, scale, host = _parse_query(query, fmt)
            except BadRequestParam as exc:
                rendered = await service.error_badge(str(exc), fmt, _lang_hint(query), "m", 1)
                await self._send(scope, send, rendered, None)
                return
        # One pass over the request headers for the two we read.
        if_none_match: bytes | None = None
        referer: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                if_none_match = value
            elif name == b"referer":
                referer = value
        seen = host or (_host_of(referer) if referer is not None else None)
        if seen is not None:
            sightings = self.stats.sightings
            if len(sightings) < MAX_SIGHTING_KEYS or (shop_id, seen) in sightings:
                sightings[(shop_id, seen)] += 1
        rendered_or_none = service.cached(shop_id, fmt, lang, size, scale, host, _monotonic())
        if rendered_or_none is None:
            rendered_or_none = await service.get(shop_id, fmt, lang, size, scale, host)
        await self._send(scope, send, rendered_or_none, if_none_match)

    async def _send(
        self, scope: Scope, send: Send, rendered: Rendered, if_none_match: bytes | None
    ) -> None:
        stats = self.stats
        if (
            if_none_match is not None
            and rendered.status == 200
            and _etag_matches(if_none_match, rendered.etag)
        ):
            stats.not_modified += 1
            await send(rendered.not_modified_start)
            await send(_EMPTY_BODY)
            return
        if rendered.status == 200:
            stats.ok += 1
        else:
            stats.responses[rendered.status] += 1
        await send(rendered.start)
        await send(_EMPTY_BODY if scope["method"] == "HEAD" else rendered.body_message)

    async def _plain(
        self, send: Send, status: int, body: bytes, extra: tuple[tuple[bytes, bytes], ...] = ()
    ) -> None:
        self.stats.responses[status] += 1
        start: Message = {
            "type": "http.response.start",
            "status": status,
            "headers": (
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ),
        }
        await send(start)
        await send({"type": "http.response.body", "body": body})


def _etag_matches(value: bytes, etag: bytes) -> bool:
    if value == etag:  # what browsers and CDNs send back
        return True
    if value.strip() == b"*":
        return True
    return any(candidate.strip().removeprefix(b"W/") == etag for candidate in value.split(b","))


def _host_of(referer: bytes) -> str | None:
    _, sep, rest = referer.partition(b"://")
    if not sep:
        return None
    host = rest.split(b"/", 1)[0].rsplit(b"@", 1)[-1].split(b":", 1)[0]
    if not host or len(host) > 253:
        return None
    return str(host.decode("latin-1")).lower()


def _lang_hint(query: bytes) -> Lang:
    for part in query.split(b"&"):
        if part.startswith(b"lang="):
            value = part[5:].decode("latin-1")
            if value in _LANGS:
                return value
    return DEFAULT_LANG


def _parse_query(query: bytes, fmt: Format) -> tuple[Lang, Size, int, str | None]:
    lang: str = DEFAULT_LANG
    size: str = "m"
    scale = 1
    host: str | None = None
    if len(query) > 2048:
        raise BadRequestParam("query string too long")
    for part in query.split(b"&"):
        name, _, raw = part.partition(b"=")
        if name == b"lang":
            lang = raw.decode("latin-1")
            if lang not in _LANGS:
                raise BadRequestParam(f"lang: {_short(lang)}? (nl, fr, de, en)")
        elif name == b"size":
            size = raw.decode("latin-1")
            if size not in _SIZES:
                raise BadRequestParam(f"size: {_short(size)}? (s, m, l)")
        elif name == b"scale":
            found = _SCALES.get(raw)
            if found is None:
                raise BadRequestParam(f"scale: {_short(raw.decode('latin-1'))}? (1, 2, 3)")
            # The SVG is resolution independent; scale only changes PNG pixels.
            scale = found if fmt == "png" else 1
        elif name == b"d":
            text = unquote_plus(raw.decode("latin-1"))
            if not text or len(text) > 253:
                raise BadRequestParam("d: not a host name")
            host = text.lower()
    return cast(Lang, lang), cast(Size, size), scale, host


def _short(value: str) -> str:
    value = "".join(ch for ch in value if ch.isprintable())
    return value if len(value) <= 12 else value[:11] + "…"
