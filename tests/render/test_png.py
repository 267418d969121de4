from __future__ import annotations

import io
import struct
import zlib

import cairosvg
import pytest
from PIL import Image

from badge.errors import BadgeError
from badge.render.baking import PNG_KEYWORD
from badge.render.png import render_png
from badge.render.svg import BadgeView, Mark, render_svg
from badge.verify.check import extract_token
from badge.vocabulary import SIZES, Size

TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJzaG9wLTEifQ.c2lnbmF0dXJl_-"
SIGNATURE = b"\x89PNG\r\n\x1a\n"


def badge_svg(mark: Mark = "certified", size: Size = "m", token: str | None = TOKEN) -> str:
    status = {
        "certified": "Gecertificeerd",
        "neutral": "Niet gecertificeerd: controleer",
        "mismatch": "Niet geldig voor deze site",
        "error": "Onbekende grootte: xl",
    }[mark]
    view = BadgeView(
        mark=mark,
        size=size,
        lang="nl",
        headline="BeCommerce Keurmerk",
        status_line=status,
        label=f"Shop X — BeCommerce Keurmerk: {mark}. Click to verify.",
        shop_name="Shop X",
        categories=("b2c_member", "b2b_member", "sponsor"),
    )
    return render_svg(view, token=token)


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


# Three flat colours on whole pixels: no anti-aliasing, so a palette holds it exactly.
FLAT_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="30" height="10">'
    '<rect width="10" height="10" fill="#0b4f9c"/>'
    '<rect x="10" width="10" height="10" fill="#ee8a00"/>'
    '<rect x="20" width="10" height="10" fill="#fff"/>'
    "</svg>"
)


@pytest.mark.parametrize(
    ("size", "scale"),
    [
        pytest.param(size, scale, id=f"{size}@{scale}x")
        for size in ("s", "m", "l")
        for scale in (1, 2, 3)
    ],
)
def test_pixel_size_is_css_size_times_scale(size: Size, scale: int) -> None:
    image = decode(render_png(badge_svg(size=size), scale=scale, token=TOKEN))
    width, height = SIZES[size]
    assert image.size == (width * scale, height * scale)


@pytest.mark.parametrize("scale", [pytest.param(s, id=str(s)) for s in (0, 4, -1)])
def test_other_scales_are_refused(scale: int) -> None:
    with pytest.raises(ValueError, match="scale"):
        render_png(badge_svg(), scale=scale, token=None)


@pytest.mark.parametrize("scale", [pytest.param(s, id=f"{s}x") for s in (1, 2, 3)])
def test_token_is_baked_once_right_after_ihdr(scale: int) -> None:
    png = render_png(badge_svg(), scale=scale, token=TOKEN)
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
    png = render_png(badge_svg(), scale=1, token=TOKEN)
    offset = len(SIGNATURE) + 12 + 13  # past IHDR
    (length,) = struct.unpack(">I", png[offset : offset + 4])
    data = png[offset + 8 : offset + 8 + length]
    assert data == PNG_KEYWORD.encode() + b"\x00\x00\x00\x00\x00" + TOKEN.encode()
    (crc,) = struct.unpack(">I", png[offset + 8 + length : offset + 12 + length])
    assert crc == zlib.crc32(b"iTXt" + data) & 0xFFFFFFFF


def test_no_token_no_chunk() -> None:
    png = render_png(badge_svg(token=None), scale=2, token=None)
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
    with pytest.raises(ValueError, match="compact JWS"):
        render_png(badge_svg(token=None), scale=1, token=token)


def test_pixels_are_cairos_own_and_the_token_adds_only_its_chunk() -> None:
    plain = render_png(FLAT_SVG, scale=2, token=None)
    signed = render_png(FLAT_SVG, scale=2, token=TOKEN)
    expected = Image.open(io.BytesIO(cairosvg.svg2png(bytestring=FLAT_SVG.encode(), scale=2)))
    assert decode(signed).tobytes() == expected.tobytes()
    chunk = 12 + len(PNG_KEYWORD) + 5 + len(TOKEN)
    assert len(signed) == len(plain) + chunk
    assert extract_token(signed, "image/png") == TOKEN


def test_badge_keeps_alpha_for_its_rounded_corners() -> None:
    image = decode(render_png(badge_svg(), scale=2, token=None))
    assert image.mode == "RGBA"
    assert image.getcolors(maxcolors=256) is None


def saturated_blue(pixel: tuple[int, ...]) -> bool:
    r, g, b = pixel[:3]
    return b - max(r, g) > 60


def test_certified_png_has_brand_blue() -> None:
    image = decode(render_png(badge_svg("certified"), scale=1, token=None)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 16)
    assert colours is not None
    blue = sum(
        count for count, pixel in colours if isinstance(pixel, tuple) and saturated_blue(pixel)
    )
    assert blue > 500  # the circle alone is ~1,800 px at m


@pytest.mark.parametrize("mark", [pytest.param(m, id=m) for m in ("neutral", "mismatch", "error")])
def test_not_certified_png_has_no_saturated_blue(mark: Mark) -> None:
    image = decode(render_png(badge_svg(mark), scale=2, token=None)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 16)
    assert colours is not None
    assert not [
        pixel for _count, pixel in colours if isinstance(pixel, tuple) and saturated_blue(pixel)
    ]


def test_card_is_white_and_corners_are_transparent() -> None:
    image = decode(render_png(badge_svg(), scale=1, token=None)).convert("RGBA")
    width, height = SIZES["m"]
    assert image.getpixel((width - 8, 8)) == (255, 255, 255, 255)
    for corner in ((0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1)):
        assert image.getpixel(corner)[3] == 0  # outside the rounded card: the page shows


def test_rendering_is_deterministic() -> None:
    svg = badge_svg()
    assert render_png(svg, scale=2, token=TOKEN) == render_png(svg, scale=2, token=TOKEN)
