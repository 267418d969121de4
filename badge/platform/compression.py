"""gzip and Brotli for everything but the badge hot path: pages, CSS, embed.js, JSON.

Pure ASGI. The response is buffered (ours are small and sent whole), compressed for the
coding the client accepts, and its ETag gets the coding as suffix, so a 304 for one
coding never confirms another's bytes. Bodies seen again (a cached page, a stylesheet,
the loader) are compressed once and looked up after that.

Starlette's GZipMiddleware keeps the ETag unchanged across codings and knows no Brotli,
so this small one does both; the badge hot path prepares its coded forms at build time.
"""

from __future__ import annotations

from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from badge.platform.caches import BoundedCache, CacheSet
from badge.platform.http import (
    CODING_NAMES,
    IDENTITY,
    Coding,
    Codings,
    coded_etag,
    compress,
    read_headers,
    strip_coding,
)

# Below this, the coding framing eats most of what it saves.
MIN_SIZE: Final = 256
MAX_BUFFER: Final = 4 * 1024 * 1024
MAX_CACHED_BODY: Final = 256 * 1024
CACHE_ENTRIES: Final = 512
_COMPRESSIBLE: Final = (
    "application/javascript",
    "application/json",
    "image/svg+xml",
)


# The request headers read, in the order read_headers returns them.
_READ: Final = {b"accept-encoding": 0, b"range": 1, b"if-none-match": 2}


def compressible(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in _COMPRESSIBLE or media.endswith("+json")


class Compression:
    def __init__(self, app: ASGIApp, caches: CacheSet) -> None:
        self.app = app
        # (coding, body) -> compressed body. Bytes keys hash once per object: a cached page
        # or a file read again costs one lookup.
        self._cache: BoundedCache[tuple[Coding, bytes], bytes] = caches.new(
            "compressed_bodies", CACHE_ENTRIES
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept, ranged, if_none_match = read_headers(scope["headers"], _READ)
        # A range is of the identity bytes; a partial compressed body would be another thing.
        codings: Codings = scope["state"]["codings"]
        coding: Coding = IDENTITY if ranged is not None else codings.pick(accept)
        asked: set[bytes] = set()
        if if_none_match is not None:
            scope = dict(scope)
            scope["headers"], asked = _plain_tags(scope["headers"], if_none_match)
        responder = _Responder(self, send, coding, asked)
        await self.app(scope, receive, responder.send)

    def encoded(self, body: bytes, coding: Coding) -> bytes:
        if len(body) > MAX_CACHED_BODY:
            return compress(body, coding)
        key = (coding, body)
        found = self._cache.get(key)
        if found is None:
            found = compress(body, coding)
            self._cache.put(key, found)
        return found


def _plain_tags(
    headers: list[tuple[bytes, bytes]], if_none_match: bytes
) -> tuple[list[tuple[bytes, bytes]], set[bytes]]:
    """If-None-Match as the app knows its ETags (suffixes off), and the tags as sent."""
    sent = {tag.strip() for tag in if_none_match.split(b",")}
    plain = b", ".join(strip_coding(tag)[0] for tag in sorted(sent))
    rewritten = [(n, plain if n == b"if-none-match" else v) for n, v in headers]
    return rewritten, sent


class _Responder:
    """Holds one response's start and body until it can choose its coding."""

    def __init__(self, owner: Compression, send: Send, coding: Coding, asked: set[bytes]) -> None:
        self.owner = owner
        self.downstream = send
        self.coding = coding
        self.asked = asked
        self.start: Message | None = None
        self.chunks: list[bytes] = []
        self.size = 0
        self.passing = False

    async def send(self, message: Message) -> None:
        if self.passing:
            await self.downstream(message)
        elif message["type"] == "http.response.start":
            await self._on_start(message)
        elif message["type"] != "http.response.body" or self.start is None:
            await self.downstream(message)
        else:
            body = message.get("body", b"")
            self.chunks.append(body)
            self.size += len(body)
            more = message.get("more_body", False)
            if self.size > MAX_BUFFER:
                # Too big to buffer: the rest goes out as it is.
                await self._flush(self.start, b"".join(self.chunks), more)
            elif not more:
                await self._finish(b"".join(self.chunks))

    async def _on_start(self, message: Message) -> None:
        headers = MutableHeaders(raw=list(message.get("headers", [])))
        status = message["status"]
        if status == 304:
            # Not modified: give back the ETag in the coding the client holds.
            etag = headers.get("etag")
            if etag is not None:
                held = _held_tag(etag.encode("latin-1"), self.coding, self.asked)
                headers["etag"] = held.decode("latin-1")
            _vary(headers)
        elif compressible(headers.get("content-type", "")) and "content-encoding" not in headers:
            if status == 200:
                self.start = {**message, "headers": headers.raw}
                return
            _vary(headers)
        self.passing = True
        await self.downstream({**message, "headers": headers.raw})

    async def _finish(self, body: bytes) -> None:
        assert self.start is not None
        headers = MutableHeaders(raw=list(self.start["headers"]))
        _vary(headers)
        # A file's HEAD comes without its body: nothing to measure, so it stays as it is.
        if self.coding != IDENTITY and len(body) >= MIN_SIZE:
            body = self.owner.encoded(body, self.coding)
            headers["content-encoding"] = CODING_NAMES[self.coding].decode()
            headers["content-length"] = str(len(body))
            etag = headers.get("etag")
            if etag is not None:
                headers["etag"] = coded_etag(etag.encode("latin-1"), self.coding).decode()
            if "accept-ranges" in headers:
                del headers["accept-ranges"]
        await self._flush({**self.start, "headers": headers.raw}, body, False)

    async def _flush(self, start: Message, body: bytes, more: bool) -> None:
        self.passing = True
        await self.downstream(start)
        await self.downstream({"type": "http.response.body", "body": body, "more_body": more})


def _held_tag(etag: bytes, coding: Coding, asked: set[bytes]) -> bytes:
    """The tag the client sent for these bytes: in this request's coding if it has that."""
    preferred = coded_etag(etag, coding)
    if preferred in asked or b"*" in asked:
        return preferred
    for tag in sorted(asked):
        if strip_coding(tag.removeprefix(b"W/"))[0] == etag:
            return tag.removeprefix(b"W/")
    return etag


def _vary(headers: MutableHeaders) -> None:
    existing = headers.get("vary")
    if existing is None:
        headers["vary"] = "Accept-Encoding"
    elif "accept-encoding" not in existing.lower() and existing.strip() != "*":
        headers["vary"] = f"{existing}, Accept-Encoding"
