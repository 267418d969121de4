"""The badge fast path: `/b/{id}.svg|png` answered in pure ASGI, before the router.

A request seen before is one lookup in the warm-answer table (warm.py) and one `send` of
precomputed headers and bytes. Otherwise the query (query.py) and the Referer are
classified, the variant looked up in the shop's entry (no I/O), and anything unusual (a
miss, a bad parameter) falls to the slower code in service.py.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from badge.platform.caches import BoundedCache, CacheSet
from badge.platform.http import Codings, etag_matches, read_headers
from badge.registry.rules import ID_LENGTH
from badge.serving import binding, prepared, refusals
from badge.serving.entries import Entry
from badge.serving.query import (
    MAX_CACHED_QUERY_BYTES,
    MAX_QUERY_BYTES,
    PLAIN,
    BadgeQuery,
    BadRequestParam,
    Budget,
    parse_query,
)
from badge.serving.responses import Rendered
from badge.serving.service import BadgeService, VariantKey
from badge.serving.sightings import Tally
from badge.serving.warm import MAX_ACCEPT_BYTES, Sighted, Warm, WarmKey, WarmTable
from badge.vocabulary import Format
from badge.web.routes import hot_path_routes

# Distinct (shop, Referer host, `d`) triples counted between two flushes.
MAX_SIGHTING_KEYS: Final = 8192
MAX_CACHED_QUERIES: Final = 4096
MAX_CACHED_REFERERS: Final = 4096
# Cross-origin Referers are bare origins; a longer one is classified but never kept.
MAX_CACHED_REFERER_BYTES: Final = 256
# Hosts that are not plain ASCII need IDNA (tens of microseconds each): at most this many a
# second on the event loop, whoever sends them.
IDNA_PER_SECOND: Final = 100
_EMPTY_BODY: Final[Message] = {"type": "http.response.body", "body": b""}
# The route table's badge routes (badge/web/routes.py): one prefix, a suffix per format.
_PREFIX, _FORMATS = hot_path_routes()
_PREFIX_LEN: Final = len(_PREFIX)
_PREFIX_BYTES: Final = _PREFIX.encode()
_SUFFIX_LEN: Final = len(next(iter(_FORMATS)))
# Each format's route template, the label of its latency metrics.
_ROUTES: Final[dict[Format, str]] = {
    fmt: _PREFIX + "{shop_id}" + sfx for sfx, fmt in _FORMATS.items()
}
# Upper bounds of the request latency buckets in seconds (+Inf follows): from a warm badge
# (tens of microseconds) to a page that waited on the registry.
LATENCY_BOUNDS: Final[tuple[float, ...]] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)  # fmt: skip
_monotonic = time.monotonic
# The request headers the hot path reads, in the order read_headers returns them.
_READ: Final = {b"if-none-match": 0, b"referer": 1, b"accept-encoding": 2}


Timing = tuple[str, str, int]


@dataclass(slots=True)
class HotPathStats:
    """Cheap counters, read by /metrics; a Prometheus call per request would cost more."""

    ok: int = 0
    responses: Counter[int] = field(default_factory=Counter)
    not_modified: int = 0
    # Badge requests the in-memory lookup could not answer (loaded, rendered or refused).
    misses: int = 0
    # (route template, badge variant or "-", status) -> a row: requests per latency bucket
    # (LATENCY_BOUNDS, then +Inf), then the sum of their seconds. Routes come from the
    # route table, variants and statuses from small fixed sets: bounded.
    timings: dict[Timing, list[float]] = field(default_factory=dict)
    # (shop id, the Referer's host[:port] as sent, `d` as sent) -> hits, bounded; one count
    # a request. Normalised and split by source when a background task flushes them.
    sightings: Tally[Sighted] = field(default_factory=lambda: Tally(MAX_SIGHTING_KEYS))
    # Hosts the sightings flush could not record, by reason (the tally's own evictions are
    # counted by the tally).
    sightings_dropped: Counter[str] = field(default_factory=Counter)
    # The hot path's kept answers' counts since the last call (BadgeHotPath.take_sightings).
    take_sightings: Callable[[], list[tuple[Sighted, int]]] = list

    def row(self, route: str, variant: str, status: int) -> list[float]:
        """The row of one series. The warm path keeps it with its answer and bumps it in
        place (as `observe` does): a method call per badge would cost measurably."""
        key = (route, variant, status)
        found = self.timings.get(key)
        if found is None:
            found = self.timings[key] = [0] * (len(LATENCY_BOUNDS) + 2)
        return found

    def observe(self, route: str, variant: str, status: int, seconds: float) -> None:
        found = self.row(route, variant, status)
        found[bisect_left(LATENCY_BOUNDS, seconds)] += 1
        found[-1] += seconds

    def drop_sightings(self, reason: str, hosts: int) -> None:
        if hosts:
            self.sightings_dropped[reason] += hosts


@dataclass(slots=True)
class _Request:
    """A badge request classified, on its way to a variant that needs drawing or loading."""

    key: WarmKey
    fmt: Format
    shop_id: str
    query: BadgeQuery
    page: str | None
    sighted: Sighted | None


class BadgeHotPath:
    def __init__(self, app: ASGIApp, stats: HotPathStats, caches: CacheSet) -> None:
        self.app = app
        self.stats = stats
        # Raw query string (at most MAX_CACHED_QUERY_BYTES) -> parsed query, or its 400.
        self._queries: BoundedCache[bytes, BadgeQuery | BadRequestParam] = caches.new(
            "badge_queries", MAX_CACHED_QUERIES
        )
        # A raw Referer header -> (its class for binding.decide, host[:port] to count).
        self._referers: BoundedCache[bytes, tuple[str, bytes | None]] = caches.new(
            "badge_referers", MAX_CACHED_REFERERS
        )
        # (path, raw query, Referer, Accept-Encoding) as sent -> what they were answered with.
        self._warm = WarmTable(stats.sightings)
        caches.add(self._warm)
        self._idna = Budget(IDNA_PER_SECOND)
        self.prepared = prepared.PreparedResponses(app, stats.observe)
        stats.take_sightings = self._warm.take_sightings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        fmt = _FORMATS.get(path[-_SUFFIX_LEN:]) if path[:_PREFIX_LEN] == _PREFIX else None
        if fmt is None or scope["type"] != "http":
            await self._other(scope, receive, send, path)
            return
        # One clock read when the request comes, for freshness and latency; one when it goes.
        now = _monotonic()
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            await refusals.not_allowed(send, self.stats, _ROUTES[fmt], now)
            return
        if_none_match, referer, accept_encoding = read_headers(scope["headers"], _READ)
        raw_query: bytes = scope["query_string"]
        service: BadgeService = scope["state"]["badges"]
        # The fast path: embeds send the same few requests over and over, and one lookup
        # finds what an earlier one with this path, query, Referer and Accept-Encoding got,
        # while the shop's entry it came from is still the one to serve.
        warm = self._warm.get((path, raw_query, referer, accept_encoding))
        if warm is None or not service.entries.serves(warm.shop_id, warm.entry, now):
            self._warm.misses += 1
            warm = await self._resolve(scope, send, service, fmt, referer, accept_encoding, now)
            if warm is None:
                return
        form = warm.form
        if self._revalidates(warm, if_none_match):
            await send(form.not_modified_start)
            await send(_EMPTY_BODY)
            _record(warm.revalidated, _monotonic() - now)
            return
        await send(form.start)
        await send(_EMPTY_BODY if method == "HEAD" else form.body_message)
        _record(warm.timing, _monotonic() - now)

    def answer(
        self,
        method: str,
        url: bytes,
        headers: list[tuple[bytes, bytes]],
        state: dict[str, Any],
        write: Callable[[bytes], object],
        date: bytes,
    ) -> int:
        """A warm answer written at the protocol (badge/platform/server.py's RawAnswers): the
        bytes `__call__` would have had uvicorn write, counted and timed the same. 0 for
        anything else, which then takes the ASGI way."""
        raw_path, _, raw_query = url.partition(b"?")
        # uvicorn decodes a %-escape in the path; kept answers are by the decoded path.
        if (method != "GET" and method != "HEAD") or b"%" in raw_path:
            return 0
        service: BadgeService | None = state.get("badges")
        if service is None:
            return 0
        now = _monotonic()
        # Latin-1 never fails; a byte past ASCII (which uvicorn refuses) matches no key.
        path = raw_path.decode("latin-1")
        if raw_path[:_PREFIX_LEN] != _PREFIX_BYTES:
            kept = self.prepared.kept(path, raw_query, headers, service)
            if kept is None:
                return 0
            (status_line, head), body = kept
            write(b"".join((status_line, date, head, b"" if method == "HEAD" else body)))
            self.prepared.observe_path(path, now)
            return 200
        if_none_match, referer, accept_encoding = read_headers(headers, _READ)
        warm = self._warm.get((path, raw_query, referer, accept_encoding))
        if warm is None or not service.entries.serves(warm.shop_id, warm.entry, now):
            # Settled here when that needs no I/O (a one-off Referer, say); else the ASGI
            # way settles it again, from the caches this filled, and draws or loads.
            fmt = _FORMATS.get(path[-_SUFFIX_LEN:])
            if fmt is None:
                return 0
            codings: Codings = state["codings"]
            settled = self._settle(service, codings, path, raw_query, referer, accept_encoding, fmt)
            if not isinstance(settled, Warm):
                return 0
            # Counted once: a request left to the ASGI way is counted there.
            self._warm.misses += 1
            warm = settled
        form = warm.form
        if self._revalidates(warm, if_none_match):
            not_modified = form.not_modified_wire
            write(b"".join((not_modified[0], date, not_modified[1])))
            _record(warm.revalidated, _monotonic() - now)
            return 304
        wire = form.wire
        write(b"".join((wire[0], date, wire[1], b"" if method == "HEAD" else form.body)))
        _record(warm.timing, _monotonic() - now)
        return warm.status

    def _revalidates(self, warm: Warm, if_none_match: bytes | None) -> bool:
        """Counts a warm answer; True when the client holds its bytes already (a 304)."""
        warm.hits += 1
        if warm.status == 200:
            if if_none_match is not None and etag_matches(if_none_match, warm.form.etag):
                self.stats.not_modified += 1
                return True
            self.stats.ok += 1
        else:
            self.stats.responses[warm.status] += 1
        return False

    async def _resolve(
        self,
        scope: Scope,
        send: Send,
        service: BadgeService,
        fmt: Format,
        referer: bytes | None,
        accept_encoding: bytes | None,
        started: float,
    ) -> Warm | None:
        """A request the fast path has not seen (or whose entry changed), settled (below),
        with the variant drawn or loaded when that needs it. None when a bad query has been
        answered already."""
        codings: Codings = scope["state"]["codings"]
        path: str = scope["path"]
        raw_query: bytes = scope["query_string"]
        settled = self._settle(service, codings, path, raw_query, referer, accept_encoding, fmt)
        if isinstance(settled, Warm):
            return settled
        if isinstance(settled, BadRequestParam):
            await refusals.bad_query(
                scope, send, service, settled, fmt, self.stats, _ROUTES[fmt], started
            )
            return None
        request, key = settled
        self.stats.misses += 1
        rendered = await self._miss(service, key, request)
        return self._warm_for(request, rendered, None, codings)

    def _settle(
        self,
        service: BadgeService,
        codings: Codings,
        path: str,
        raw_query: bytes,
        referer: bytes | None,
        accept_encoding: bytes | None,
        fmt: Format,
    ) -> Warm | BadRequestParam | tuple[_Request, VariantKey | None]:
        """What needs no I/O: the query and the Referer classified, and the answer when the
        shop's entry holds its variant; else the request, with the variant to draw if the
        entry is usable (None: load it)."""
        # Embeds send the same few query strings: parsed once (bounds first), then looked up.
        query = self._queries.get(raw_query) if raw_query else PLAIN
        seen = query is not None
        if query is None:
            query = self._query(raw_query)
        if isinstance(query, BadRequestParam):
            return query
        shop_id = path[_PREFIX_LEN:-_SUFFIX_LEN]
        # The page showing the badge decides what it says (binding.py), not `d`. Browsers
        # send the same few origins: one lookup of the raw header classifies it.
        page = netloc = None
        if referer is not None:
            known = self._referers.get(referer)
            seen = seen and known is not None
            page, netloc = known or self._classify(referer, service)
        counted = (netloc is not None or query.host is not None) and len(shop_id) == ID_LENGTH
        sighted = (shop_id, netloc, query.host) if counted else None
        request = _Request(
            (path, raw_query, referer, accept_encoding), fmt, shop_id, query, page, sighted
        )
        found = service.entries.lookup(shop_id, fmt, query, page, _monotonic())
        if not isinstance(found, Rendered):
            return request, found
        # Only cached queries and Referers count as seen: both are short and final.
        entry = service.entries.current(shop_id) if seen else None
        return self._warm_for(request, found, entry, codings)

    def _warm_for(
        self, request: _Request, rendered: Rendered, entry: Entry | None, codings: Codings
    ) -> Warm:
        """The answer, kept when it came from `entry`, so a flood of one-off hosts pushes out
        nothing embeds ask over and over; its sighting is counted when it is not kept."""
        key, sighted = request.key, request.sighted
        accept_encoding = key[3]
        # The form for the client's Accept-Encoding, compressed when the variant was built.
        form = rendered.forms[codings.pick(accept_encoding)]
        rows = self._rows(request.fmt, rendered)
        warm = Warm(request.shop_id, entry, form, rendered.status, sighted, *rows)
        if entry is not None and (
            accept_encoding is None or len(accept_encoding) <= MAX_ACCEPT_BYTES
        ):
            self._warm.keep(key, warm)
        elif sighted is not None:
            # Not kept, so counted here; the caller's count goes nowhere.
            self.stats.sightings.add(sighted)
        return warm

    def _rows(self, fmt: Format, rendered: Rendered) -> tuple[list[float], list[float]]:
        """The latency rows of an answer, and of its 304."""
        timing = self.stats.row(_ROUTES[fmt], rendered.variant, rendered.status)
        if rendered.status != 200:
            return timing, timing
        return timing, self.stats.row(_ROUTES[fmt], rendered.variant, 304)

    async def _miss(
        self, service: BadgeService, key: VariantKey | None, request: _Request
    ) -> Rendered:
        """Down once: a usable entry lacking the variant draws it; no usable entry, loads it."""
        if key is not None:
            return await service.draw(key)
        return await service.get(request.shop_id, request.fmt, request.query, request.page)

    def _other(self, scope: Scope, receive: Receive, send: Send, path: str) -> Awaitable[None]:
        """Not a badge: a shop's page or API document may be prepared (badge.serving.prepared).

        The handler's coroutine is returned for the caller to await: no frame of our own."""
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            shop_id = prepared.shop_id_of(path)
            if shop_id is not None:
                return self.prepared(scope, receive, send, shop_id)
        return self.app(scope, receive, send)

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
            found = parse_query(raw, self._idna)
        except BadRequestParam as exc:
            # Kept without its traceback, which would pin the parser's frame.
            found = exc.with_traceback(None)
        if len(raw) > MAX_CACHED_QUERY_BYTES or (isinstance(found, BadgeQuery) and not found.final):
            return found
        self._queries.put(raw, found)
        return found


def _record(row: list[float], elapsed: float) -> None:
    """One answer in its latency row (HotPathStats.row), bumped in place."""
    row[bisect_left(LATENCY_BOUNDS, elapsed)] += 1
    row[-1] += elapsed
