from __future__ import annotations

import dataclasses
import io
import struct
import zlib

import pytest
from PIL import Image

from badge.errors import BadgeError
from badge.render.baking import PNG_KEYWORD
from badge.render.png import bake, render_png_view
from badge.render.svg import BadgeView, Mark
from badge.verify.check import extract_token
from badge.vocabulary import SIZES, Size

TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJzaG9wLTEifQ.c2lnbmF0dXJl_-"
SIGNATURE = b"\x89PNG\r\n\x1a\n"


def badge_view(mark: Mark = "certified", size: Size = "m") -> BadgeView:
    status = {
        "certified": "Gecertificeerd",
        "neutral": "Niet gecertificeerd: controleer",
        "mismatch": "Niet geldig voor deze site",
        "lookup": "Controleer deze shop",
        "error": "Onbekende grootte: xl",
    }[mark]
    return BadgeView(
        mark=mark,
        size=size,
        lang="nl",
        headline="BeCommerce Keurmerk",
        status_line=status,
        label=f"Shop X — BeCommerce Keurmerk: {mark}. Click to verify.",
        shop_name="Shop X",
        categories=("b2c_member", "b2b_member", "sponsor"),
    )


def badge_png(
    mark: Mark = "certified", size: Size = "m", *, scale: int = 1, token: str | None = TOKEN
) -> bytes:
    """As the service serves it: the view's pixels, then the signature baked in."""
    png = render_png_view(badge_view(mark, size), scale)
    return png if token is None else bake(png, token)


def chunk_types(png: bytes) -> list[bytes]:
    types, offset = [], len(SIGNATURE)
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        types.append(png[offset + 4 : offset + 8])
        offset += 12 + length
    return types


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


@pytest.mark.parametrize(
    ("size", "scale"),
    [
        pytest.param(size, scale, id=f"{size}@{scale}x")
        for size in ("s", "m", "l")
        for scale in (1, 2, 3)
    ],
)
def test_pixel_size_is_css_size_times_scale(size: Size, scale: int) -> None:
    image = decode(badge_png(size=size, scale=scale))
    width, height = SIZES[size]
    assert image.size == (width * scale, height * scale)


@pytest.mark.parametrize("scale", [pytest.param(s, id=str(s)) for s in (0, 4, -1)])
def test_other_scales_are_refused(scale: int) -> None:
    with pytest.raises(ValueError, match="scale"):
        render_png_view(badge_view(), scale)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"size": "xl"}, id="size"),
        pytest.param({"lang": "es"}, id="lang"),
        pytest.param({"mark": "revoked"}, id="mark"),
    ],
)
def test_views_it_cannot_draw_are_refused(changes: dict[str, str]) -> None:
    view = dataclasses.replace(badge_view(), **changes)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot render"):
        render_png_view(view, 1)


@pytest.mark.parametrize("scale", [pytest.param(s, id=f"{s}x") for s in (1, 2, 3)])
def test_token_is_baked_once_right_after_ihdr(scale: int) -> None:
    png = badge_png(scale=scale)
    assert png.startswith(SIGNATURE)
    types = chunk_types(png)
    assert types[0] == b"IHDR"
    assert types[1] == b"iTXt"
    assert types.count(b"iTXt") == 1
    assert types[-1] == b"IEND"
    # The verifier reads it back, as it does an uploaded badge.
    assert extract_token(png, "image/png") == TOKEN
    # Pillow agrees the chunk is a valid, uncompressed international text chunk.
    image = Image.open(io.BytesIO(png))
    assert image.info[PNG_KEYWORD] == TOKEN


def test_itxt_chunk_layout() -> None:
    png = badge_png()
    offset = len(SIGNATURE) + 12 + 13  # past IHDR
    (length,) = struct.unpack(">I", png[offset : offset + 4])
    data = png[offset + 8 : offset + 8 + length]
    assert data == PNG_KEYWORD.encode() + b"\x00\x00\x00\x00\x00" + TOKEN.encode()
    (crc,) = struct.unpack(">I", png[offset + 8 + length : offset + 12 + length])
    assert crc == zlib.crc32(b"iTXt" + data) & 0xFFFFFFFF


def test_no_token_no_chunk() -> None:
    png = badge_png(scale=2, token=None)
    assert b"iTXt" not in chunk_types(png)
    with pytest.raises(BadgeError):
        extract_token(png, "image/png")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("a.b]]>", id="cdata"),
        pytest.param("a b", id="space"),
        pytest.param("", id="empty"),
    ],
)
def test_bad_token_is_refused(token: str) -> None:
    plain = badge_png(token=None)
    with pytest.raises(ValueError, match="compact JWS"):
        bake(plain, token)


def test_the_token_adds_only_its_chunk() -> None:
    plain = badge_png(scale=2, token=None)
    signed = bake(plain, TOKEN)
    assert decode(signed).tobytes() == decode(plain).tobytes()
    chunk = 12 + len(PNG_KEYWORD) + 5 + len(TOKEN)
    assert len(signed) == len(plain) + chunk
    assert extract_token(signed, "image/png") == TOKEN


def test_badge_keeps_alpha_for_its_rounded_corners() -> None:
    image = decode(badge_png(scale=2, token=None))
    assert image.mode == "RGBA"
    assert image.getcolors(maxcolors=256) is None


def saturated_blue(pixel: tuple[int, ...]) -> bool:
    r, g, b = pixel[:3]
    return b - max(r, g) > 60


def test_certified_png_has_brand_blue() -> None:
    image = decode(badge_png("certified", token=None)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 16)
    assert colours is not None
    blue = sum(
        count for count, pixel in colours if isinstance(pixel, tuple) and saturated_blue(pixel)
    )
    assert blue > 500  # the circle alone is ~1,800 px at m


@pytest.mark.parametrize(
    "mark", [pytest.param(m, id=m) for m in ("neutral", "mismatch", "lookup", "error")]
)
def test_not_certified_png_has_no_saturated_blue(mark: Mark) -> None:
    image = decode(badge_png(mark, scale=2, token=None)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 16)
    assert colours is not None
    assert not [
        pixel for _count, pixel in colours if isinstance(pixel, tuple) and saturated_blue(pixel)
    ]


def test_card_is_white_and_corners_are_transparent() -> None:
    image = decode(badge_png(token=None)).convert("RGBA")
    width, height = SIZES["m"]
    assert image.getpixel((width - 8, 8)) == (255, 255, 255, 255)
    for corner in ((0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1)):
        assert image.getpixel(corner)[3] == 0  # outside the rounded card: the page shows


def test_rendering_is_deterministic() -> None:
    assert badge_png(scale=2) == badge_png(scale=2)
