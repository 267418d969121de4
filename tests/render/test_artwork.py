from __future__ import annotations

import io

import cairosvg
import defusedxml.ElementTree as ET
import pytest
from PIL import Image

from badge.render.artwork import (
    BRAND_BLUE,
    ERROR_SLATE,
    MARK_FILL,
    NEUTRAL_GREY,
    THUMBS_UP,
    Mark,
    mark_svg,
    number,
)

MARKS: tuple[Mark, ...] = ("certified", "neutral", "mismatch", "error")
SVG_NS = "{http://www.w3.org/2000/svg}"


def luminance(colour: str) -> float:
    channels = []
    for i in (1, 3, 5):
        c = int(colour[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_with_white(colour: str) -> float:
    return 1.05 / (luminance(colour) + 0.05)


def render_mark(mark: Mark, diameter: int) -> Image.Image:
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{diameter}" height="{diameter}">'
        f"{mark_svg(mark, x=0, y=0, diameter=diameter)}</svg>"
    )
    png = cairosvg.svg2png(bytestring=svg.encode(), background_color="#fff")
    return Image.open(io.BytesIO(png)).convert("RGB")


def is_white(pixel: tuple[int, ...]) -> bool:
    return min(pixel) >= 235


def is_brand_blue(pixel: tuple[int, ...]) -> bool:
    r, g, b = pixel[:3]
    return b > 130 and r < 40 and g < 110


@pytest.mark.parametrize(
    ("colour", "minimum"),
    [
        # Text-level contrast for the brand blue; the grey marks carry symbols, not text,
        # so they need the 3:1 that WCAG asks of graphical objects, and we keep them at AA.
        pytest.param(BRAND_BLUE, 7.0, id="brand-blue-AAA"),
        pytest.param(NEUTRAL_GREY, 4.5, id="neutral-grey-AA"),
        pytest.param(ERROR_SLATE, 4.5, id="error-slate-AA"),
    ],
)
def test_white_on_mark_colours_has_enough_contrast(colour: str, minimum: float) -> None:
    assert contrast_with_white(colour) >= minimum


@pytest.mark.parametrize("mark", [pytest.param(m, id=m) for m in MARKS])
def test_mark_is_well_formed_svg(mark: Mark) -> None:
    svg = f'<svg xmlns="http://www.w3.org/2000/svg">{mark_svg(mark, x=1, y=2, diameter=40)}</svg>'
    group = ET.fromstring(svg).find(f"{SVG_NS}g")
    assert group is not None
    assert group.get("transform") == "translate(1 2) scale(.4)"
    circle = group.find(f"{SVG_NS}circle")
    assert circle is not None
    assert circle.get("fill") == MARK_FILL[mark]


@pytest.mark.parametrize(
    ("mark", "thumbs_up"),
    [
        pytest.param("certified", True, id="certified"),
        pytest.param("neutral", False, id="neutral"),
        pytest.param("mismatch", False, id="mismatch"),
        pytest.param("error", False, id="error"),
    ],
)
def test_only_certified_shows_the_thumbs_up(mark: Mark, thumbs_up: bool) -> None:
    assert (THUMBS_UP in mark_svg(mark, x=0, y=0, diameter=32)) is thumbs_up


def test_non_certified_marks_are_all_different() -> None:
    symbols = {mark_svg(m, x=0, y=0, diameter=32) for m in ("neutral", "mismatch", "error")}
    assert len(symbols) == 3


def test_only_certified_is_blue() -> None:
    assert MARK_FILL["certified"] == BRAND_BLUE
    assert BRAND_BLUE not in {MARK_FILL[m] for m in ("neutral", "mismatch", "error")}


@pytest.mark.parametrize(
    ("x", "y", "white"),
    [
        pytest.param(55, 26, True, id="thumb-tip"),
        pytest.param(27, 62, True, id="cuff"),
        pytest.param(50, 65, True, id="fist"),
        pytest.param(70, 44, True, id="index-finger"),
        pytest.param(35, 30, False, id="left-of-thumb"),
        pytest.param(72, 30, False, id="right-of-thumb"),
        pytest.param(50, 88, False, id="below-fist"),
        pytest.param(35.5, 62, False, id="gap-between-cuff-and-palm"),
    ],
)
def test_thumbs_up_silhouette_at_96_px(x: float, y: float, white: bool) -> None:
    """Spot checks in the 100-unit design box that the shape is a raised thumb over a fist."""
    image = render_mark("certified", 100)
    pixel = image.getpixel((int(x), int(y)))
    assert isinstance(pixel, tuple)
    assert is_white(pixel) is white
    if not white:
        assert is_brand_blue(pixel)


def test_thumbs_up_still_has_its_shape_at_16_px() -> None:
    image = render_mark("certified", 16)
    # Thumb column above the fist is light, the space left of it stays blue.
    thumb = image.getpixel((8, 4))
    beside = image.getpixel((5, 4))
    assert isinstance(thumb, tuple)
    assert isinstance(beside, tuple)
    assert sum(thumb) > sum(beside) + 150
    assert is_brand_blue(beside)


@pytest.mark.parametrize("mark", [pytest.param(m, id=m) for m in ("neutral", "mismatch", "error")])
def test_grey_marks_have_no_saturated_blue(mark: Mark) -> None:
    image = render_mark(mark, 64)
    colours = image.getcolors(maxcolors=64 * 64)
    assert colours is not None
    for _count, pixel in colours:
        assert isinstance(pixel, tuple)
        r, g, b = pixel
        assert b - max(r, g) < 25


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        pytest.param(0.5, 2, ".5", id="leading-zero-dropped"),
        pytest.param(-0.25, 2, "-.25", id="negative-fraction"),
        pytest.param(2.0, 2, "2", id="integer"),
        pytest.param(10.5, 2, "10.5", id="ten-and-a-half"),
        pytest.param(-0.001, 2, "0", id="negative-zero"),
        pytest.param(0.48, 4, ".48", id="scale"),
        pytest.param(1 / 3, 2, ".33", id="rounded"),
    ],
)
def test_number_is_the_shortest_spelling(value: float, places: int, expected: str) -> None:
    assert number(value, places) == expected
