"""Badge variants: what the live state allows, rendered once, signed once per window, cached.

A variant is (shop, format, language, size, scale, site class). The site class comes from
the page that shows the badge (see binding.py). Each variant's bytes, signature and
response headers are precomputed so the hot path only looks them up.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal, cast
from urllib.parse import urlsplit

import anyio

from badge import binding
from badge.bus import SharedCache, Snapshot
from badge.http import BR, CODING_NAMES, GZIP, IDENTITY, Coding, coded_etag, compress, strong_etag
from badge.purge import surrogate_headers
from badge.registry import rules
from badge.registry.base import Registry
from badge.registry.model import Shop
from badge.render import png as png_render
from badge.render import svg as svg_render
from badge.render.pool import RenderPool
from badge.render.svg import BadgeView, Mark
from badge.settings import Settings
from badge.signing import KeyStore
from badge.texts import (
    CERTIFIED_LINE,
    ERROR_LABEL,
    HEADLINE,
    LABEL,
    LABEL_LOOKUP,
    LABEL_MISMATCH,
    LABEL_UNKNOWN,
    LOOKUP_LINE,
    MISMATCH_LINE,
    NEUTRAL_LINE,
    NEUTRAL_SHORT,
    state_word,
    t,
)
from badge.timeutil import seconds_to_midnight, today
from badge.vocabulary import Format, Lang, PublicState, Size

# The site class from binding.decide: "off", "neutral", "mismatch", "@" (our own pages) or
# the registered domain a certified variant was served for.
VariantKey = tuple[str, Format, Lang, Size, int, str]

SVG_CSP: Final = b"default-src 'none'; style-src 'unsafe-inline'; sandbox"
UNKNOWN_CACHE_SIZE: Final = 10_000
ErrorKind = Literal["lang", "size", "scale", "d", "query"]
# What an error badge says. The bad value itself goes in the X-Badge-Error header.
ERROR_TEXTS: Final[dict[ErrorKind, str]] = {
    "lang": "lang? (nl, fr, de, en)",
    "size": "size? (s, m, l)",
    "scale": "scale? (1, 2, 3)",
    "d": "d: not a host name",
    "query": "query string too long",
}
PIXEL_CACHE_SIZE: Final = 2048


@dataclass(frozen=True, slots=True)
class Form:
    """One content coding of a badge, with its ASGI messages built once: the hot path picks
    one by Accept-Encoding and sends it as it is, never compressing per request."""

    etag: bytes
    start: dict[str, object]
    body_message: dict[str, object]
    not_modified_start: dict[str, object]


@dataclass(frozen=True, slots=True)
class Rendered:
    status: int
    body: bytes
    etag: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    # The ASGI messages, built once and indexed by badge.http.Coding (identity, gzip, br);
    # a PNG has the identity form thrice. The hot path sends them as they are.
    forms: tuple[Form, Form, Form]


@dataclass(slots=True)
class Entry:
    """What this process knows of one shop, and the variants rendered from it."""

    shop: Shop | None
    state: PublicState
    token: str | None
    refresh_at: float
    token_exp: float = 0.0
    variants: dict[VariantKey, Rendered] = field(default_factory=dict)
    domains: frozenset[str] = frozenset()
    kid: str = ""
    certified: bool = False
    # The claims every variant's signature shares; each site class adds what it shows.
    claims: dict[str, object] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)


# An unknown id: no shop, nothing to sign, never due for a refresh of its own.
_UNKNOWN: Final = Entry(shop=None, state="unknown", token=None, refresh_at=float("inf"))


def content_type(fmt: Format) -> bytes:
    return b"image/svg+xml; charset=utf-8" if fmt == "svg" else b"image/png"


def build_response(
    status: int,
    body: bytes,
    fmt: Format,
    cache_control: bytes,
    surrogate: tuple[tuple[bytes, bytes], ...] = (),
) -> Rendered:
    """Headers, messages and, for SVG, the gzip and Brotli forms: CPU work, run in a thread.

    `surrogate`: the edge cache's purge keys (badge.purge), fixed per variant."""
    etag = strong_etag(body)
    common = [
        (b"cache-control", cache_control),
        (b"x-content-type-options", b"nosniff"),
        (b"cross-origin-resource-policy", b"cross-origin"),
        (b"access-control-allow-origin", b"*"),
        # What the badge says depends on the page that shows it (binding.py); a PNG is
        # compressed already, so only an SVG also differs by Accept-Encoding.
        (b"vary", b"Referer, Accept-Encoding" if fmt == "svg" else b"Referer"),
    ]
    if fmt == "svg":
        common.append((b"content-security-policy", SVG_CSP))
    common.extend(surrogate)
    codings: tuple[Coding, ...] = (IDENTITY, GZIP, BR) if fmt == "svg" else (IDENTITY,)
    forms = [_form(status, compress(body, c, best=True), c, etag, fmt, common) for c in codings]
    identity = forms[0]
    headers = cast(tuple[tuple[bytes, bytes], ...], identity.start["headers"])
    if len(forms) == 1:
        forms *= 3
    return Rendered(status, body, etag, headers, forms=(forms[0], forms[1], forms[2]))


# What a 304 repeats of its 200: the ETag, Vary, and the edge's purge keys.
_NOT_MODIFIED_HEADERS: Final = frozenset(
    {b"etag", b"vary", b"xkey", b"surrogate-key", b"cache-tag"}
)


def _form(
    status: int,
    body: bytes,
    coding: Coding,
    etag: bytes,
    fmt: Format,
    common: list[tuple[bytes, bytes]],
) -> Form:
    tag = coded_etag(etag, coding)
    headers: tuple[tuple[bytes, bytes], ...] = (
        (b"content-type", content_type(fmt)),
        (b"content-length", str(len(body)).encode()),
        *(((b"content-encoding", CODING_NAMES[coding]),) if coding != IDENTITY else ()),
        (b"etag", tag),
        *common,
    )
    cache_control = common[0][1]
    # A 304 carries what RFC 9110 asks for (ETag, Cache-Control, Vary; uvicorn adds Date):
    # the cache keeps the other headers of its stored 200, and each header costs per response.
    not_modified = (
        *((name, value) for name, value in headers if name in _NOT_MODIFIED_HEADERS),
        (b"cache-control", cache_control),
    )
    return Form(
        tag,
        start={"type": "http.response.start", "status": status, "headers": headers},
        body_message={"type": "http.response.body", "body": body},
        not_modified_start={"type": "http.response.start", "status": 304, "headers": not_modified},
    )


class BadgeService:
    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        keys: KeyStore,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.keys = keys
        self.clock = clock
        # Our own pages (the embed preview, /v) count as the shop's own site.
        self.own_host = urlsplit(settings.public_url).hostname or "localhost"
        self.own_netlocs = frozenset({urlsplit(settings.public_url).netloc.lower().encode()})
        self.entries: dict[str, Entry] = {}
        self.unknown: OrderedDict[str, None] = OrderedDict()
        # The change feed (SQLite polling or Redis pub/sub) confirmed "no news" at this time;
        # cached states are trusted for stale_limit seconds after it.
        self.fresh_at = clock()
        self.cache_control = (
            f"public, max-age={settings.max_age}, "
            f"stale-while-revalidate={settings.stale_while_revalidate}"
        ).encode()
        self.short_cache = b"public, max-age=30"
        self.render_limiter = anyio.CapacityLimiter(4)
        # PNGs go to a worker process when one is given (the served app); in threads otherwise.
        self.pool: RenderPool | None = None
        self._inflight: dict[str, asyncio.Future[Entry]] = {}
        self._generic: dict[tuple[str, Format, Lang, Size, int], Rendered] = {}
        # At most len(ERROR_TEXTS) x 2 formats x 4 languages entries, ever.
        self._errors: dict[tuple[ErrorKind, Format, Lang], Rendered] = {}
        self.shared: SharedCache | None = None
        # Entries dropped by an invalidation, kept to reuse their token if nothing changed.
        self._previous: dict[str, Entry] = {}
        self.bus_status = "off"
        # Called with each shop this process stops serving from memory (badge.purge).
        self.purge: Callable[[str], None] | None = None
        self.shared_hits = 0
        self.registry_loads = 0
        self.sign_count = 0
        self.render_count = 0
        # Rasterised PNGs without a signature, per look and scale (oldest dropped first).
        self._pixels: dict[tuple[BadgeView, int], bytes] = {}
        self.raster_count = 0

    def is_fresh(self, now: float) -> bool:
        return now - self.fresh_at <= self.settings.stale_limit

    def _usable(self, entry: Entry | None, now: float) -> bool:
        """Not due for re-signing, and confirmed by the change feed within the stale bound."""
        return (
            entry is not None
            and now < entry.refresh_at
            and now - self.fresh_at <= self.settings.stale_limit
        )

    def mark_fresh(self) -> None:
        self.fresh_at = self.clock()

    def invalidate(self, shop_id: str) -> None:
        entry = self.entries.pop(shop_id, None)
        if entry is not None:
            self._previous[shop_id] = entry
        self.unknown.pop(shop_id, None)
        # A load in flight may have read the old state: it must not be stored or joined.
        self._inflight.pop(shop_id, None)
        # Only after our own copy is gone: an edge refetching from us gets the new state.
        if self.purge is not None:
            self.purge(shop_id)

    async def changed(self, shop_id: str) -> None:
        """After a change made by this process: drop it here, then tell the other instances."""
        self.invalidate(shop_id)
        if self.shared is not None:
            await self.shared.publish_change(shop_id)

    def on_bus_message(self, shop_id: str) -> None:
        if shop_id == "*":
            self.invalidate_all()
        else:
            self.invalidate(shop_id)

    def set_bus_status(self, status: str) -> None:
        self.bus_status = status

    def invalidate_all(self) -> None:
        self._previous.update(self.entries)
        self.entries.clear()
        self.unknown.clear()
        self._inflight.clear()

    def cached(
        self,
        shop_id: str,
        fmt: Format,
        lang: Lang,
        size: Size,
        scale: int,
        claim: str | None,
        referer: str | None,
        now: float,
    ) -> Rendered | None:
        """The hot path's lookup: no I/O, no awaits; `_usable` written out inline, because a
        method call is a measurable share of a warm request.

        `claim` is `d` normalised, `referer` the Referer's class (binding.decide)."""
        entry = self.entries.get(shop_id)
        if (
            entry is None
            or now >= entry.refresh_at
            or now - self.fresh_at > self.settings.stale_limit
        ):
            return None
        site = binding.decide(entry.certified, entry.domains, referer, claim)
        return entry.variants.get((shop_id, fmt, lang, size, scale, site))

    async def get(
        self,
        shop_id: str,
        fmt: Format,
        lang: Lang,
        size: Size,
        scale: int,
        claim: str | None,
        referer: str | None,
    ) -> Rendered:
        try:
            entry = await self.shop_entry(shop_id)
        except Exception:
            # The registry is unreachable and our copy is too old to trust.
            return await self._generic_badge("unavailable", fmt, lang, size, scale)
        if entry.shop is None:
            return await self._generic_badge("unknown", fmt, lang, size, scale)
        site = binding.decide(entry.certified, entry.domains, referer, claim)
        key: VariantKey = (shop_id, fmt, lang, size, scale, site)
        rendered = entry.variants.get(key)
        if rendered is None:
            rendered = await self._render_variant(entry, key)
            entry.variants[key] = rendered
        return rendered

    async def shop_entry(self, shop_id: str) -> Entry:
        """The live state for badges, pages and APIs, loaded at most once per shop at a time."""
        if not rules.is_shop_id(shop_id) or shop_id in self.unknown:
            return _UNKNOWN
        entry = self.entries.get(shop_id)
        if entry is not None and self._usable(entry, self.clock()):
            return entry
        return await self._load(shop_id)

    async def _load(self, shop_id: str) -> Entry:
        """Memory missed: ask Redis (when configured), then the registry. One load per shop."""
        pending = self._inflight.get(shop_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Entry] = asyncio.get_running_loop().create_future()
        self._inflight[shop_id] = future
        try:
            entry = await self._fetch(shop_id)
            if self._inflight.get(shop_id) is not future:
                pass  # invalidated meanwhile: answer this request, remember nothing
            elif entry.shop is None:
                self.unknown[shop_id] = None
                while len(self.unknown) > UNKNOWN_CACHE_SIZE:
                    self.unknown.popitem(last=False)
            else:
                self.entries[shop_id] = entry
            future.set_result(entry)
            return entry
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # consumed here so an unawaited future does not warn
            raise
        finally:
            if self._inflight.get(shop_id) is future:
                del self._inflight[shop_id]

    async def _fetch(self, shop_id: str) -> Entry:
        shared = self.shared
        generation = b"0"
        if shared is not None:
            snapshot = await shared.get(shop_id)
            if snapshot is not None:
                entry = self._entry_from_snapshot(snapshot)
                if entry is not None:
                    self.shared_hits += 1
                    return entry
            generation = await shared.generation(shop_id)
        with anyio.fail_after(2.0):
            # Abandon a stuck call: without it the timeout only fires once the thread returns.
            shop = await anyio.to_thread.run_sync(
                self.registry.get_shop, shop_id, abandon_on_cancel=True
            )
        self.registry_loads += 1
        entry = self._entry_for(shop)
        if shared is not None:
            await shared.put(
                shop_id,
                generation,
                Snapshot(shop=shop, token=entry.token, token_exp=entry.token_exp),
            )
        return entry

    def _entry_from_snapshot(self, snapshot: Snapshot) -> Entry | None:
        """Reuse another instance's token, so every instance serves the same bytes and ETag."""
        if snapshot.shop is None:
            return self._entry_for(None)
        remaining = snapshot.token_exp - time.time()
        state = snapshot.shop.public_state(today())
        if snapshot.token is None or remaining <= self.settings.token_ttl / 2:
            return None
        claims, _ = self.keys.verify(snapshot.token)
        if claims is None or claims.get("state") != state:
            return None
        return self._make_entry(snapshot.shop, state, snapshot.token, claims)

    def _entry_for(self, shop: Shop | None) -> Entry:
        if shop is None:
            return _UNKNOWN
        state = shop.public_state(today())
        previous = self._previous.pop(shop.id, None)
        if (
            previous is not None
            and previous.shop == shop
            and previous.state == state
            and previous.kid == self.keys.signing_kid
            and previous.token is not None
            and previous.token_exp - time.time() > self.settings.token_ttl / 2
        ):
            # Nothing changed (a resubscribe, or another field's event): keep the bytes and
            # the ETag, so browsers and CDNs keep getting 304s.
            entry = self._make_entry(shop, state, previous.token, previous.claims)
            entry.variants = previous.variants
            entry.tokens = previous.tokens
            return entry
        claims = self.claims(shop, state)
        self.sign_count += 1
        token = self.keys.sign(claims)
        return self._make_entry(shop, state, token, claims)

    def _make_entry(
        self, shop: Shop, state: PublicState, token: str, claims: dict[str, object]
    ) -> Entry:
        exp = claims.get("exp")
        token_exp = float(exp) if isinstance(exp, int | float) else 0.0
        # Re-sign at half the token's life so an embedded badge never carries an expired one,
        # and re-derive at Belgian midnight, when `valid_until` may have passed.
        until_half_life = token_exp - time.time() - self.settings.token_ttl / 2
        refresh_in = max(1.0, min(until_half_life, seconds_to_midnight()))
        return Entry(
            shop=shop,
            state=state,
            token=token,
            token_exp=token_exp,
            refresh_at=self.clock() + refresh_in,
            domains=frozenset(shop.domains),
            kid=self.keys.signing_kid,
            certified=state == "certified",
            claims=claims,
        )

    def variant_token(self, entry: Entry, site: str) -> str:
        """The signature baked into one site class's variants: the shared claims plus what
        the variant shows. Ed25519 is deterministic, so every instance holding the same
        shared claims (through Redis) signs the same bytes and serves the same ETag."""
        token = entry.tokens.get(site)
        if token is None:
            claims = {**entry.claims, **binding.variant_claims(site, self.own_host)}
            self.sign_count += 1
            token = self.keys.sign(claims)
            entry.tokens[site] = token
        return token

    def claims(self, shop: Shop, state: PublicState) -> dict[str, object]:
        issued = int(time.time())
        return {
            "iss": self.settings.public_url,
            "sub": shop.id,
            "name": shop.display_name,
            "domains": list(shop.domains),
            "state": state,
            "iat": issued,
            "exp": issued + self.settings.token_ttl,
        }

    async def _render_variant(self, entry: Entry, key: VariantKey) -> Rendered:
        _, fmt, lang, size, scale, site = key
        shop = entry.shop
        assert shop is not None
        view = badge_view(shop, entry.state, site, lang, size)
        token = self.variant_token(entry, site)
        body = await self._render(view, fmt, scale, token)
        return await self._build(200, body, fmt, self.cache_control, surrogate_headers(shop.id))

    async def _build(
        self,
        status: int,
        body: bytes,
        fmt: Format,
        cache: bytes,
        surrogate: tuple[tuple[bytes, bytes], ...],
    ) -> Rendered:
        """Compressing a variant (Brotli at its best) is CPU work: off the event loop, once."""
        async with self.render_limiter:
            return await anyio.to_thread.run_sync(
                build_response, status, body, fmt, cache, surrogate
            )

    async def _render(self, view: BadgeView, fmt: Format, scale: int, token: str | None) -> bytes:
        self.render_count += 1
        if fmt == "png":
            # Pixels depend on the view alone: a re-signed or other-site variant with the
            # same look only splices its signature into the cached pixels.
            pixels = self._pixels.get((view, scale))
            if pixels is None:
                pixels = await self._rasterise(view, scale)
            return pixels if token is None else png_render.bake(pixels, token)
        async with self.render_limiter:
            svg = await anyio.to_thread.run_sync(lambda: svg_render.render_svg(view, token=token))
        return svg.encode("utf-8")

    async def _rasterise(self, view: BadgeView, scale: int) -> bytes:
        async with self.render_limiter:
            svg = await anyio.to_thread.run_sync(lambda: svg_render.render_svg(view, token=None))
            if self.pool is not None:
                pixels = await self.pool.png(svg, scale, None)
            else:
                pixels = await anyio.to_thread.run_sync(
                    lambda: png_render.render_png(svg, scale=scale, token=None)
                )
        self.raster_count += 1
        if len(self._pixels) >= PIXEL_CACHE_SIZE:
            self._pixels.pop(next(iter(self._pixels)))
        self._pixels[(view, scale)] = pixels
        return pixels

    async def _generic_badge(
        self,
        kind: Literal["unknown", "unavailable"],
        fmt: Format,
        lang: Lang,
        size: Size,
        scale: int,
    ) -> Rendered:
        cache_key = (kind, fmt, lang, size, scale)
        rendered = self._generic.get(cache_key)
        if rendered is None:
            view = BadgeView(
                mark="neutral",
                size=size,
                lang=lang,
                headline=t(lang, HEADLINE),
                status_line=t(lang, NEUTRAL_LINE),
                label=t(lang, LABEL_UNKNOWN),
                shop_name=None,
                categories=(),
            )
            body = await self._render(view, fmt, scale, None)
            status = 404 if kind == "unknown" else 503
            rendered = await self._build(
                status, body, fmt, self.short_cache, surrogate_headers(None)
            )
            self._generic[cache_key] = rendered
        return rendered

    async def error_badge(self, kind: ErrorKind, fmt: Format, lang: Lang) -> Rendered:
        """One of the few prepared error badges: a fixed text per kind, never the bad value,
        so no request can make us render (or keep) anything new."""
        cache_key = (kind, fmt, lang)
        rendered = self._errors.get(cache_key)
        if rendered is not None:
            return rendered
        text = ERROR_TEXTS[kind]
        view = BadgeView(
            mark="error",
            size="m",
            lang=lang,
            headline=t(lang, HEADLINE),
            status_line=text,
            label=t(lang, ERROR_LABEL, error=text),
            shop_name=None,
            categories=(),
        )
        body = await self._render(view, fmt, 1, None)
        rendered = await self._build(400, body, fmt, b"no-store", ())
        self._errors[cache_key] = rendered
        return rendered


def badge_view(shop: Shop, state: PublicState, site: str, lang: Lang, size: Size) -> BadgeView:
    """What a variant shows: a pure function of the live state and the site class."""
    mark: Mark
    name = shop.display_name
    if site == binding.OFF or state != "certified":
        mark, line = "neutral", NEUTRAL_SHORT if size == "s" else NEUTRAL_LINE
        label = t(lang, LABEL, shop=name, state=state_word(lang, state))
    elif site == binding.MISMATCH:
        mark, line = "mismatch", MISMATCH_LINE
        label = t(lang, LABEL_MISMATCH, shop=name)
    elif site == binding.NEUTRAL:
        mark, line = "lookup", LOOKUP_LINE
        label = t(lang, LABEL_LOOKUP, shop=name)
    else:
        mark, line = "certified", CERTIFIED_LINE
        label = t(lang, LABEL, shop=name, state=state_word(lang, state))
    return BadgeView(
        mark=mark,
        size=size,
        lang=lang,
        headline=t(lang, HEADLINE),
        status_line=t(lang, line),
        label=label,
        shop_name=name,
        categories=shop.categories if mark == "certified" else (),
    )
