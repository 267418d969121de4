"""HTTP pieces shared by several routes: strong ETags and `If-None-Match`, content codings,
bounded bodies, and the Cache-Control every response must carry."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Final, Literal

import brotli
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from badge.errors import BadRequest, PayloadTooLarge
from badge.platform.caches import BoundedCache, CacheSet


def digits(text: str) -> bool:
    """Only 0-9, at least one: `str.isdigit` also takes "²" and "¹", which `int` refuses."""
    return text.isascii() and text.isdigit()


def strong_etag(body: bytes) -> bytes:
    return b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'


def etag_matches(header: bytes | None, etag: bytes) -> bool:
    """RFC 9110 weak comparison, as `If-None-Match` asks for."""
    if header is None:
        return False
    if header == etag:  # what browsers and CDNs send back
        return True
    if header.strip() == b"*":
        return True
    return any(candidate.strip().removeprefix(b"W/") == etag for candidate in header.split(b","))


# Content codings, as indexes into a tuple of prepared forms (see badges.Rendered.forms).
Coding = Literal[0, 1, 2]
IDENTITY: Final = 0
GZIP: Final = 1
BR: Final = 2
CODING_NAMES: Final = (b"", b"gzip", b"br")
MAX_CACHED_ACCEPT: Final = 256


class Codings:
    """The coding we send for each Accept-Encoding: br, else gzip, else none.

    Browsers send a handful of distinct values, so each is parsed once and then looked up:
    the hot path pays one lookup per request. One per app, made by the lifespan.
    """

    def __init__(self, caches: CacheSet) -> None:
        self._accepted: BoundedCache[bytes, Coding] = caches.new(
            "accept_encodings", MAX_CACHED_ACCEPT
        )

    def pick(self, accept_encoding: bytes | None) -> Coding:
        if accept_encoding is None:
            return IDENTITY
        found = self._accepted.get(accept_encoding)
        if found is None:
            found = parse_accept_encoding(accept_encoding)
            self._accepted.put(accept_encoding, found)
        return found


def parse_accept_encoding(header: bytes) -> Coding:
    """RFC 9110 12.5.3: codings with q=0 are refused; `*` stands for any coding not named."""
    weights: dict[bytes, float] = {}
    for part in header[:1024].lower().split(b",")[:32]:
        name, _, params = part.strip().partition(b";")
        quality = 1.0
        params = params.strip()
        if params.startswith(b"q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        if name:
            weights[name.strip()] = quality
    star = weights.get(b"*", 0.0)
    if weights.get(b"br", star) > 0:
        return BR
    if weights.get(b"gzip", weights.get(b"x-gzip", star)) > 0:
        return GZIP
    return IDENTITY


def compress(body: bytes, coding: Coding, *, best: bool = False) -> bytes:
    """`best` for bytes prepared once and sent many times (badges); otherwise fast levels.

    gzip's mtime is fixed so every instance makes the same bytes from the same input.
    """
    if coding == BR:
        return bytes(brotli.compress(body, quality=11 if best else 5))
    if coding == GZIP:
        return gzip.compress(body, 9 if best else 6, mtime=0)
    return body


def coded_etag(etag: bytes, coding: Coding) -> bytes:
    """A different strong ETag per coding (`"abc-br"`), so a 304 never confirms the wrong
    bytes; the suffix is derived, so every instance gives the same ETag."""
    if coding == IDENTITY or not etag.endswith(b'"'):
        return etag
    return etag[:-1] + b"-" + CODING_NAMES[coding] + b'"'


def strip_coding(tag: bytes) -> tuple[bytes, Coding]:
    """`"abc-gzip"` -> (`"abc"`, GZIP): the ETag of the same bytes before coding."""
    for coding in (GZIP, BR):
        suffix = b"-" + CODING_NAMES[coding] + b'"'
        if tag.endswith(suffix):
            return tag[: -len(suffix)] + b'"', coding
    return tag, IDENTITY


def conditional(
    request: Request, body: bytes, media_type: str, headers: Mapping[str, str]
) -> Response:
    """`body` with its headers, or a 304 when the client holds it already (headers has etag)."""
    header = request.headers.get("if-none-match")
    sent = None if header is None else header.encode("latin-1")
    if etag_matches(sent, headers["etag"].encode("latin-1")):
        return Response(status_code=304, headers=dict(headers))
    return Response(body, media_type=media_type, headers=dict(headers))


async def read_body(request: Request, limit: int, *, too_large: str) -> bytes:
    """The request body, refused with 413 (`too_large`) as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if digits(declared) and int(declared) > limit:
        raise PayloadTooLarge(too_large)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                # Stop reading here: a hostile client must not make us buffer its whole upload.
                raise PayloadTooLarge(too_large)
            chunks.append(chunk)
    except ClientDisconnect:
        # The client left, or the server's body timeout closed it: an answer no one reads,
        # but a 4xx, not a logged traceback per slow client.
        raise BadRequest("the request body stopped before it was complete") from None
    return b"".join(chunks)


def read_headers(
    headers: Iterable[tuple[bytes, bytes]], wanted: Mapping[bytes, int]
) -> list[bytes | None]:
    """The values of the headers in `wanted` (name -> index in the answer), None for those
    missing, in one pass over the request's headers; a repeated header, its last value."""
    found: list[bytes | None] = [None] * len(wanted)
    for name, value in headers:
        index = wanted.get(name)
        if index is not None:
            found[index] = value
    return found


class HttpMiddleware:
    """Pure ASGI middleware for HTTP requests (`handle`); anything else (the lifespan) goes
    straight to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class DefaultCacheControl(HttpMiddleware):
    """Every response leaves with a Cache-Control chosen on purpose. A response that set
    none takes its route's policy (`cache_for(path)`, from the route table) when it
    succeeded, and `no-store` when it did not (router 404/405, error handlers, a 500), so
    no cache keeps an error by heuristics."""

    def __init__(self, app: ASGIApp, cache_for: Callable[[str], str]) -> None:
        super().__init__(app)
        self.cache_for = cache_for

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_default(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    ok = message["status"] < 400
                    policy = self.cache_for(scope["path"]) if ok else "no-store"
                    headers.append((b"cache-control", policy.encode("latin-1")))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_default)
