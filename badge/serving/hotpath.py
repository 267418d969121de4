"""The badge fast path: `/b/{id}.svg|png` answered in pure ASGI, before the router.

Every request for a warm variant is a dict lookup and one `send` of precomputed headers
and bytes. Anything unusual (a miss, a bad parameter) falls to the slower code in service.py.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Final, cast
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from badge.platform.caches import BoundedCache, CacheSet
from badge.platform.http import IDENTITY, Codings, etag_matches
from badge.registry import rules
from badge.registry.rules import ID_LENGTH
from badge.serving import binding, prepared
from badge.serving.responses import Rendered
from badge.serving.service import ERROR_TEXTS, BadgeService, ErrorKind, VariantKey
from badge.serving.sightings import Tally
from badge.vocabulary import DEFAULT_LANG, LANGS, SIZES, Format, Lang, Size

_SIZES: Final = frozenset(SIZES)
_LANGS: Final = frozenset(LANGS)
_SCALES: Final = {b"1": 1, b"2": 2, b"3": 3}
# Distinct (shop, Referer host, `d`) triples counted between two flushes.
MAX_SIGHTING_KEYS: Final = 8192
MAX_CACHED_QUERIES: Final = 4096
# Embeds send `lang`, `size` and a host name of at most 253 characters: 1 KB is plenty, and
# it bounds the query cache at 4 MB whatever is sent.
MAX_QUERY_BYTES: Final = 1024
MAX_CACHED_REFERERS: Final = 4096
# Cross-origin Referers are bare origins; a longer one is classified but never kept.
MAX_CACHED_REFERER_BYTES: Final = 256
# Hosts that are not plain ASCII need IDNA (tens of microseconds each): at most this many a
# second on the event loop, whoever sends them.
IDNA_PER_SECOND: Final = 100
_EMPTY_BODY: Final[Message] = {"type": "http.response.body", "body": b""}
_FORMATS: Final[dict[str, Format]] = {".svg": "svg", ".png": "png"}
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
    # False when `d` needed IDNA and this second's budget for it was spent: `d` is then left
    # out of the verdict (it can only lower it), and the query is not cached, so a later
    # request checks it properly.
    final: bool = True


_PLAIN: Final = BadgeQuery()
Sighted = tuple[str, bytes | None, str | None]


@dataclass(slots=True)
class HotPathStats:
    """Cheap counters, read by /metrics; a Prometheus call per request would cost more."""

    ok: int = 0
    responses: Counter[int] = field(default_factory=Counter)
    not_modified: int = 0
    # (shop id, the Referer's host[:port] as sent, `d` as sent) -> hits, bounded; one count
    # a request. Normalised and split by source when a background task flushes them.
    sightings: Tally[Sighted] = field(default_factory=lambda: Tally(MAX_SIGHTING_KEYS))


class BadgeHotPath:
    def __init__(self, app: ASGIApp, stats: HotPathStats, caches: CacheSet) -> None:
        self.app = app
        self.stats = stats
        # Raw query string (at most MAX_QUERY_BYTES) -> parsed query, or the 400 it deserves.
        self._queries: BoundedCache[bytes, BadgeQuery | BadRequestParam] = caches.new(
            "badge_queries", MAX_CACHED_QUERIES
        )
        # A raw Referer header -> (its class for binding.decide, host[:port] to count).
        self._referers: BoundedCache[bytes, tuple[str, bytes | None]] = caches.new(
            "badge_referers", MAX_CACHED_REFERERS
        )
        self._idna = Budget(IDNA_PER_SECOND)
        self.prepared = prepared.PreparedResponses(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        fmt = _FORMATS.get(path[-4:]) if path[:3] == "/b/" else None
        if fmt is None or scope["type"] != "http":
            await self._other(scope, receive, send, path)
            return
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            await self._plain(send, 405, b"method not allowed\n", ((b"allow", b"GET, HEAD"),))
            return
        raw_query: bytes = scope["query_string"]
        # Embeds send the same few query strings: parsed once (bounds first), then looked up.
        query = self._queries.get(raw_query) if raw_query else _PLAIN
        if query is None:
            query = self._query(raw_query)
        state = scope["state"]
        service: BadgeService = state["badges"]
        if isinstance(query, BadRequestParam):
            await self._bad_query(scope, send, service, query, fmt)
            return
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
        shop_id = path[3:-4]
        # The page showing the badge decides what it says (binding.py), not `d`. Browsers
        # send the same few origins: one lookup of the raw header classifies it.
        referer_class = netloc = None
        if referer is not None:
            referer_class, netloc = self._referers.get(referer) or self._classify(referer, service)
        if (netloc is not None or query.host is not None) and len(shop_id) == ID_LENGTH:
            self.stats.sightings.add((shop_id, netloc, query.host))
        scale = query.scale if fmt == "png" else 1  # an SVG is resolution independent
        found = service.entries.lookup(
            shop_id, fmt, query.lang, query.size, scale, query.site, referer_class, _monotonic()
        )
        if not isinstance(found, Rendered):
            found = await self._miss(service, found, shop_id, fmt, scale, query, referer_class)
        # The form for the client's Accept-Encoding, compressed when the variant was built.
        codings: Codings = state["codings"]
        form = found.forms[IDENTITY if accept_encoding is None else codings.pick(accept_encoding)]
        if found.status == 200:
            if if_none_match is not None and etag_matches(if_none_match, form.etag):
                self.stats.not_modified += 1
                await send(form.not_modified_start)
                await send(_EMPTY_BODY)
                return
            self.stats.ok += 1
        else:
            self.stats.responses[found.status] += 1
        await send(form.start)
        await send(_EMPTY_BODY if method == "HEAD" else form.body_message)

    async def _miss(
        self,
        service: BadgeService,
        key: VariantKey | None,
        shop_id: str,
        fmt: Format,
        scale: int,
        query: BadgeQuery,
        referer_class: str | None,
    ) -> Rendered:
        """Down once: a usable entry lacking the variant draws it; no usable entry, loads it."""
        if key is not None:
            return await service.draw(key)
        lang, size, claim = query.lang, query.size, query.site
        return await service.get(shop_id, fmt, lang, size, scale, claim, referer_class)

    async def _bad_query(
        self, scope: Scope, send: Send, service: BadgeService, bad: BadRequestParam, fmt: Format
    ) -> None:
        """A prepared error badge; what was wrong with this request goes in a header only."""
        raw_query: bytes = scope["query_string"]
        lang = DEFAULT_LANG if bad.kind == "query" else _lang_hint(raw_query)
        rendered = await service.renderer.error_badge(bad.kind, fmt, lang)
        self.stats.responses[rendered.status] += 1
        headers = (*rendered.headers, (b"x-badge-error", bad.header()))
        await send({"type": "http.response.start", "status": rendered.status, "headers": headers})
        body = rendered.forms[IDENTITY].body_message
        await send(_EMPTY_BODY if scope["method"] == "HEAD" else body)

    async def _other(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        """Not a badge: a shop's page or API document may be prepared (badge.serving.prepared)."""
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            shop_id = prepared.shop_id_of(path)
            if shop_id is not None:
                await self.prepared(scope, receive, send, shop_id)
                return
        await self.app(scope, receive, send)

    def _classify(self, referer: bytes, service: BadgeService) -> tuple[str, bytes | None]:
        """A Referer missing from the cache: classified (binding.py), and kept when short."""
        known = binding.classify_referer(referer, service.own_netlocs)
        if len(referer) <= MAX_CACHED_REFERER_BYTES:
            self._referers.put(referer, known)
        return known

    def _query(self, raw: bytes) -> BadgeQuery | BadRequestParam:
        """A query string missing from the cache: bounded, parsed and (when final) kept."""
        if len(raw) > MAX_QUERY_BYTES:
            return BadRequestParam("query", "too long")
        found: BadgeQuery | BadRequestParam
        try:
            found = _parse_query(raw, self._idna)
        except BadRequestParam as exc:
            # Kept without its traceback, which would pin the parser's frame.
            found = exc.with_traceback(None)
        if isinstance(found, BadgeQuery) and not found.final:
            return found
        self._queries.put(raw, found)
        return found

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


class Budget:
    """At most `per_second` uses in each second of the monotonic clock."""

    __slots__ = ("per_second", "second", "used")

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self.second = -1
        self.used = 0

    def take(self) -> bool:
        second = int(_monotonic())
        if second != self.second:
            self.second, self.used = second, 0
        if self.used >= self.per_second:
            return False
        self.used += 1
        return True


def _claim(host: str, idna: Budget) -> tuple[str | None, bool]:
    """`d` normalised like registered domains ("" for no host name), and whether that is
    final. Plain ASCII hosts (what embed.js sends) need no IDNA; others spend the budget."""
    quick = binding.quick_domain(host)
    if quick is not None:
        return quick, True
    if idna.take():
        return rules.try_normalise_domain(host) or "", True
    return None, False


def _parse_query(query: bytes, idna: Budget) -> BadgeQuery:
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
    site, final = (None, True) if host is None else _claim(host, idna)
    return BadgeQuery(cast(Lang, lang), cast(Size, size), scale, host, site, final)


def _short(value: str) -> str:
    value = "".join(ch for ch in value if ch.isprintable())
    return value if len(value) <= 12 else value[:11] + "…"
