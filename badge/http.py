"""HTTP pieces shared by several routes: strong ETags and `If-None-Match`, bounded bodies,
and the Cache-Control every response must carry."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from badge.errors import BadRequest, PayloadTooLarge


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
    if declared.isdigit() and int(declared) > limit:
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


class DefaultCacheControl:
    """Every response leaves with a Cache-Control chosen on purpose. Routes set their own;
    whatever did not (router 404/405, error handlers, a 500) is `no-store`, so no cache
    keeps an error by heuristics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_default(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_default)
