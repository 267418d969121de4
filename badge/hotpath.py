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

from badge import binding
from badge.badges import ERROR_TEXTS, BadgeService, ErrorKind, Rendered
from badge.http import IDENTITY, Coding, etag_matches, pick_coding
from badge.registry import rules
from badge.registry.rules import ID_LENGTH
from badge.sightings import Tally
from badge.vocabulary import DEFAULT_LANG, LANGS, SIZES, Format, Lang, Size

_SIZES: Final = frozenset(SIZES)
_LANGS: Final = frozenset(LANGS)
_SCALES: Final = {b"1": 1, b"2": 2, b"3": 3}
MAX_SIGHTING_KEYS: Final = 50_000
MAX_CACHED_QUERIES: Final = 4096
# Embeds send `lang`, `size` and a host name of at most 253 characters: 1 KB is plenty, and
# it bounds the query cache at 4 MB whatever is sent.
MAX_QUERY_BYTES: Final = 1024
MAX_HOST_CHARS: Final = 260  # a host name (253) and a port
MAX_CACHED_REFERERS: Final = 4096
# Cross-origin Referers are bare origins; a longer one is classified but never kept.
MAX_CACHED_REFERER_BYTES: Final = 256
_EMPTY_BODY: Final[Message] = {"type": "http.response.body", "body": b""}
_monotonic = time.monotonic


class BadRequestParam(ValueError):
    """A bad badge parameter: `kind` picks one of the few prepared error badges, `detail`
    (the bad value, shortened) goes only into the X-Badge-Error header."""

    def __init__(self, kind: ErrorKind, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind: ErrorKind = kind
        self.detail = detail

    def header(self) -> bytes:
        text = f"{ERROR_TEXTS[self.kind]} (got {self.detail})"
        # Printable ASCII only: a header is no place for control bytes or raw Unicode.
        return "".join(ch if " " <= ch <= "~" else "?" for ch in text).encode("ascii")


@dataclass(frozen=True, slots=True)
class BadgeQuery:
    """A parsed badge query string; embeds send the same few strings over and over."""

    lang: Lang = DEFAULT_LANG
    size: Size = "m"
    scale: int = 1
    # `d` as sent (for sightings) and normalised like registered domains ("" when it is no
    # host name, which matches no shop), so its part of the verdict is one set lookup.
    host: str | None = None
    site: str | None = None


_PLAIN: Final = BadgeQuery()


@dataclass(slots=True)
class HotPathStats:
    """Cheap counters, read by /metrics; a Prometheus call per request would cost more."""

    ok: int = 0
    responses: Counter[int] = field(default_factory=Counter)
    not_modified: int = 0
    # (shop id, the Referer's host[:port] as sent) and (shop id, `d`) -> hits, apart and
    # each bounded; normalised when a background task flushes them, not per request.
    referer_sightings: Tally[tuple[str, bytes]] = field(
        default_factory=lambda: Tally(MAX_SIGHTING_KEYS)
    )
    claim_sightings: Tally[tuple[str, str]] = field(
        default_factory=lambda: Tally(MAX_SIGHTING_KEYS)
    )


class BadgeHotPath:
    def __init__(self, app: ASGIApp, stats: HotPathStats) -> None:
        self.app = app
        self.stats = stats
        # Raw query string (at most MAX_QUERY_BYTES) -> parsed query, or the 400 it deserves.
        self._queries: dict[bytes, BadgeQuery | BadRequestParam] = {}
        # A raw Referer header -> (its class for binding.decide, host[:port] to count).
        self._referers: dict[bytes, tuple[str, bytes | None]] = {}

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
        raw_query: bytes = scope["query_string"]
        # Bounds first: nothing below caches or counts a string longer than these.
        if len(raw_query) > MAX_QUERY_BYTES:
            query: BadgeQuery | BadRequestParam = BadRequestParam("query", "too long")
        else:
            query = self._query(raw_query) if raw_query else _PLAIN
        if isinstance(query, BadRequestParam):
            lang_hint = DEFAULT_LANG if query.kind == "query" else _lang_hint(raw_query)
            error = await service.error_badge(query.kind, fmt, lang_hint)
            await self._send_error(scope, send, error, query.header())
            return
        # The SVG is resolution independent; scale only changes PNG pixels.
        scale = query.scale if fmt == "png" else 1
        # One pass over the request headers for the three we read.
        if_none_match: bytes | None = None
        referer: bytes | None = None
        accept_encoding: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                if_none_match = value
            elif name == b"referer":
                referer = value
            elif name == b"accept-encoding":
                accept_encoding = value
        # The page showing the badge decides what it says (binding.py). Browsers send the
        # same few origins over and over: one lookup of the raw header classifies it.
        page: str | None = None
        # Only a well-formed id is worth a sightings slot, and only a host-sized origin is
        # cached or counted: bounds before anything is kept.
        countable = len(shop_id) == ID_LENGTH
        if referer is not None:
            known = self._referers.get(referer)
            if known is None:
                known = self._classify(referer, service)
            page, netloc = known
            if netloc is not None and countable:
                # Tally.add written out for a key seen before: one lookup, one increment.
                tally = self.stats.referer_sightings
                seen = tally.counts.get((shop_id, netloc))
                if seen is None:
                    tally.add((shop_id, netloc))
                else:
                    seen[0] += 1
        if query.host is not None and countable:
            self.stats.claim_sightings.add((shop_id, query.host))
        lang, size, claim = query.lang, query.size, query.site
        rendered = service.cached(shop_id, fmt, lang, size, scale, claim, page, _monotonic())
        if rendered is None:
            rendered = await service.get(shop_id, fmt, lang, size, scale, claim, page)
        await self._send(scope, send, rendered, if_none_match, pick_coding(accept_encoding))

    def _classify(self, referer: bytes, service: BadgeService) -> tuple[str, bytes | None]:
        """(the page's class for binding.decide, its host[:port] to count as a sighting)."""
        netloc = binding.referer_netloc(referer)
        if netloc is None or len(netloc) > MAX_HOST_CHARS:
            known: tuple[str, bytes | None] = ("", None)  # unreadable: matches no domain
        elif netloc in service.own_netlocs:
            known = (binding.OWN, None)  # our own pages: no sighting
        else:
            known = (binding.referer_host(netloc), netloc)
        if len(referer) <= MAX_CACHED_REFERER_BYTES:
            if len(self._referers) >= MAX_CACHED_REFERERS:
                self._referers.clear()
            self._referers[referer] = known
        return known

    def _query(self, raw: bytes) -> BadgeQuery | BadRequestParam:
        found = self._queries.get(raw)
        if found is None:
            try:
                found = _parse_query(raw)
            except BadRequestParam as exc:
                # Kept without its traceback, which would pin the parser's frame.
                found = exc.with_traceback(None)
            if len(self._queries) >= MAX_CACHED_QUERIES:
                self._queries.clear()
            self._queries[raw] = found
        return found

    async def _send(
        self,
        scope: Scope,
        send: Send,
        rendered: Rendered,
        if_none_match: bytes | None,
        coding: Coding,
    ) -> None:
        stats = self.stats
        # The form for the client's Accept-Encoding, compressed when the variant was built.
        form = rendered.forms[coding]
        if (
            if_none_match is not None
            and rendered.status == 200
            and etag_matches(if_none_match, form.etag)
        ):
            stats.not_modified += 1
            await send(form.not_modified_start)
            await send(_EMPTY_BODY)
            return
        if rendered.status == 200:
            stats.ok += 1
        else:
            stats.responses[rendered.status] += 1
        await send(form.start)
        await send(_EMPTY_BODY if scope["method"] == "HEAD" else form.body_message)

    async def _send_error(self, scope: Scope, send: Send, rendered: Rendered, why: bytes) -> None:
        """A prepared error badge; what was wrong with this request goes in a header only."""
        self.stats.responses[rendered.status] += 1
        headers = (*rendered.headers, (b"x-badge-error", why))
        await send({"type": "http.response.start", "status": rendered.status, "headers": headers})
        body = rendered.forms[IDENTITY].body_message
        await send(_EMPTY_BODY if scope["method"] == "HEAD" else body)

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
                (b"cache-control", b"no-store"),
                *extra,
            ),
        }
        await send(start)
        await send({"type": "http.response.body", "body": body})


def _lang_hint(query: bytes) -> Lang:
    for part in query.split(b"&"):
        if part.startswith(b"lang="):
            value = part[5:].decode("latin-1")
            if value in _LANGS:
                return value
    return DEFAULT_LANG


def _parse_query(query: bytes) -> BadgeQuery:
    lang: str = DEFAULT_LANG
    size: str = "m"
    scale = 1
    host: str | None = None
    # The caller has already refused a query over MAX_QUERY_BYTES, before any cache.
    for part in query.split(b"&"):
        name, _, raw = part.partition(b"=")
        if name == b"lang":
            lang = raw.decode("latin-1")
            if lang not in _LANGS:
                raise BadRequestParam("lang", _short(lang))
        elif name == b"size":
            size = raw.decode("latin-1")
            if size not in _SIZES:
                raise BadRequestParam("size", _short(size))
        elif name == b"scale":
            found = _SCALES.get(raw)
            if found is None:
                raise BadRequestParam("scale", _short(raw.decode("latin-1")))
            scale = found
        elif name == b"d":
            text = unquote_plus(raw.decode("latin-1"))
            if not text or len(text) > 253:
                raise BadRequestParam("d", _short(text))
            host = text.lower()
    site = None if host is None else (rules.try_normalise_domain(host) or "")
    return BadgeQuery(cast(Lang, lang), cast(Size, size), scale, host, site)


def _short(value: str) -> str:
    value = "".join(ch for ch in value if ch.isprintable())
    return value if len(value) <= 12 else value[:11] + "…"
