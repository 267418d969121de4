"""A badge variant's HTTP response, built once: headers, strong ETag and the gzip and
Brotli forms, as the ASGI messages the hot path sends unchanged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, cast

from badge.platform.http import (
    BR,
    CODING_NAMES,
    GZIP,
    IDENTITY,
    Coding,
    coded_etag,
    compress,
    strong_etag,
)
from badge.platform.server import wire_head
from badge.vocabulary import Format

SVG_CSP: Final = b"default-src 'none'; style-src 'unsafe-inline'; sandbox"


@dataclass(frozen=True, slots=True)
class Form:
    """One content coding of a badge, with its ASGI messages built once: the hot path picks
    one by Accept-Encoding and sends it as it is, never compressing per request."""

    etag: bytes
    start: dict[str, object]
    body_message: dict[str, object]
    not_modified_start: dict[str, object]
    # The same as the status line and header block uvicorn writes (platform/server.py's
    # wire_head), for answers at the protocol.
    wire: tuple[bytes, bytes]
    not_modified_wire: tuple[bytes, bytes]
    body: bytes


@dataclass(frozen=True, slots=True)
class Rendered:
    status: int
    body: bytes
    etag: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    # The ASGI messages, built once and indexed by badge.platform.http.Coding (identity, gzip, br);
    # a PNG has the identity form thrice. The hot path sends them as they are.
    forms: tuple[Form, Form, Form]
    # What the badge shows, for the latency metrics: binding.variant_claims' name for a
    # shop's variant, "unknown" or "unavailable" for the neutral badge, "error" otherwise.
    variant: str = "error"


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

    `surrogate`: the edge cache's purge keys (badge.platform.purge), fixed per variant."""
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


# What a 304 repeats of its 200: the ETag, Vary, and the edge's purge keys and lifetime.
_NOT_MODIFIED_HEADERS: Final = frozenset(
    {b"etag", b"vary", b"xkey", b"surrogate-key", b"cache-tag", b"surrogate-control"}
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
        wire=_wire(status, headers),
        not_modified_wire=_wire(304, not_modified),
        body=body,
    )


def _wire(status: int, headers: tuple[tuple[bytes, bytes], ...]) -> tuple[bytes, bytes]:
    found = wire_head(status, headers)
    if found is None:
        raise ValueError(f"uvicorn would not send these badge headers as they are: {headers}")
    return found
