"""The badge as PNG: cairo paints the badge's elements (raster.py) with alpha outside the
rounded card, and the signature is baked into one iTXt chunk right after IHDR.

This is CPU work and synchronous; callers run it in a worker process or a thread.
"""

from __future__ import annotations

import struct
import zlib

from badge.render.baking import PNG_KEYWORD
from badge.render.svg import BadgeView, check_token, drawing
from badge.vocabulary import SCALES, SIZES

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def render_png_view(view: BadgeView, scale: int) -> bytes:
    """The badge's pixels, unsigned: the caller bakes in the token with `bake`."""
    # cairo is loaded where pixels are drawn, the render worker, and not by every process
    # that only bakes tokens into PNGs (a fifth of a second of each start).
    from badge.render.raster import rasterise

    _check_scale(scale)
    nodes = drawing(view)  # first: it refuses a view it cannot draw
    width, height = SIZES[view.size]
    # No background: the card paints itself white, and outside its rounded corners the
    # page shows through, as it does around the SVG. Cairo's own PNG is kept as it is:
    # re-encoding with Pillow saved about 2 % of the bytes for 3 to 6 times the time.
    return rasterise(nodes, width=width, height=height, scale=scale)


def _check_scale(scale: int) -> None:
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, not {scale!r}")


def bake(png: bytes, token: str) -> bytes:
    """`png` (rendered without a token) with the signature spliced in: no pixel work."""
    return _insert_after_ihdr(png, _itxt(PNG_KEYWORD, check_token(token)))


def _itxt(keyword: str, text: str) -> bytes:
    # keyword, NUL, compression flag 0, method 0, empty language tag and translated keyword.
    data = keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8")
    return _chunk(b"iTXt", data)


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _insert_after_ihdr(png: bytes, chunk: bytes) -> bytes:
    chunks = list(_chunks(png))
    if not chunks or chunks[0][0] != b"IHDR":
        raise ValueError("PNG does not start with IHDR")
    ihdr_end = len(SIGNATURE) + 12 + len(chunks[0][1])
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    if not png.startswith(SIGNATURE):
        raise ValueError("not a PNG")
    chunks: list[tuple[bytes, bytes]] = []
    offset = len(SIGNATURE)
    while offset < len(png):
        if offset + 12 > len(png):
            raise ValueError("truncated PNG chunk")
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        data = png[offset + 8 : offset + 8 + length]
        if len(data) != length or offset + 12 + length > len(png):
            raise ValueError("truncated PNG chunk")
        (crc,) = struct.unpack(">I", png[offset + 8 + length : offset + 12 + length])
        if crc != zlib.crc32(kind + data) & 0xFFFFFFFF:
            raise ValueError(f"bad CRC in {kind!r} chunk")
        chunks.append((kind, data))
        offset += 12 + length
        if kind == b"IEND":
            break
    return chunks
