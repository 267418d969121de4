from __future__ import annotations

import io
from functools import cache

import cairosvg
import pytest
from PIL import Image, ImageChops, ImageStat

from badge.render.pathdata import commands
from badge.render.png import render_png_view
from badge.render.raster import rasterise
from badge.render.scene import Node, node, to_svg
from badge.render.svg import drawing, render_svg
from badge.vocabulary import SIZES
from tests.render.views import spread

SPREAD = spread()


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def cairosvg_png(svg: str, scale: int) -> bytes:
    png: bytes = cairosvg.svg2png(bytestring=svg.encode(), scale=scale)
    return png


@cache
def both_ways(index: int, scale: int) -> tuple[bytes, bytes]:
    """Case `index` of the spread at `scale`: painted by us, and its SVG through cairosvg."""
    _case, view, _token = SPREAD[index]
    return render_png_view(view, scale), cairosvg_png(render_svg(view, token=None), scale)


def assert_same_picture(ours: Image.Image, theirs: Image.Image, case: str) -> None:
    assert (ours.size, ours.mode) == (theirs.size, theirs.mode) == (theirs.size, "RGBA"), case
    diff = ImageChops.difference(ours, theirs)
    # Anti-aliasing noise (a curve flattened a little differently) moves edge pixels by a
    # few levels and averages well under a level per channel; an element one pixel off,
    # a wrong colour or a missing glyph averages several levels over a badge this small.
    means = ImageStat.Stat(diff).mean
    assert max(means) < 0.5, f"{case}: mean difference per channel {means}"
    # And noise stays small where it is: a shifted edge or a dropped stroke would put far
    # more than 0.5 % of the pixels beyond 16 levels on some channel.
    worst = diff.convert("RGBA").split()
    pixels = ours.size[0] * ours.size[1]
    for channel in worst:
        beyond = sum(channel.point(lambda level: 255 if level > 16 else 0).histogram()[255:])
        assert beyond <= pixels * 0.005, f"{case}: {beyond} of {pixels} pixels differ by > 16"


@pytest.mark.parametrize("scale", [pytest.param(s, id=f"{s}x") for s in (1, 2, 3)])
def test_png_shows_what_the_rasterised_svg_shows(scale: int) -> None:
    for index, (case, _view, _token) in enumerate(SPREAD):
        ours, theirs = both_ways(index, scale)
        assert_same_picture(decode(ours), decode(theirs), f"{case}@{scale}x")


def test_with_this_cairo_the_files_are_identical() -> None:
    # Stronger than the picture test above, and true today: the painter makes cairosvg's
    # cairo calls, so the pixels and cairo's PNG encoding match byte for byte. A cairo or
    # cairosvg upgrade that breaks only this test still draws the same picture.
    different = [
        f"{case}@{scale}x"
        for index, (case, _view, _token) in enumerate(SPREAD)
        for scale in (1, 2, 3)
        if len(set(both_ways(index, scale))) != 1
    ]
    assert not different


def test_text_paths_carry_the_commands_their_path_data_reads_as() -> None:
    # text.py writes each line's `d` and its drawing commands in one pass; the painter
    # uses the commands, the SVG the data. They must say the same.
    def text_paths(item: Node) -> list[Node]:
        own = [item] if item.tag == "path" and item.drawn else []
        return own + [path for child in item.children for path in text_paths(child)]

    checked = 0
    for _case, view, _token in SPREAD:
        for item in drawing(view):
            for path in text_paths(item):
                assert path.drawn is not None
                assert path.drawn() == commands(path.get("d"))
                checked += 1
    assert checked >= 2 * len(SPREAD)


def test_border_is_one_crisp_pixel_at_scale_one() -> None:
    _case, view, _token = SPREAD[0]
    image = decode(render_png_view(view, 1))
    width, height = SIZES[view.size]
    # Top and left edges: one fully opaque grey pixel, then the white card.
    for edge, inside in (((width // 2, 0), (width // 2, 1)), ((0, height // 2), (1, height // 2))):
        red, green, blue, alpha = image.getpixel(edge)
        assert alpha == 255 and max(red, green, blue) < 240
        assert image.getpixel(inside) == (255, 255, 255, 255)


def paint(*nodes: Node, size: int = 20) -> Image.Image:
    return decode(rasterise(nodes, width=size, height=size, scale=1))


def test_elements_and_inheritance_follow_svg() -> None:
    nodes = (
        node(
            "g",
            'fill="#ff0000" stroke="#0000ff" stroke-width="2"',
            node("rect", 'x="2" y="2" width="6" height="6"'),
            node("circle", 'cx="15" cy="5" r="3" fill="none"'),
            node("path", 'stroke="none" d="M2 12h6v6h-6z"'),
        ),
        node("g", 'transform="translate(10 10) scale(.5)"', node("rect", 'width="20" height="20"')),
    )
    ours = paint(*nodes)
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20">{to_svg(nodes)}</svg>'
    assert ours.tobytes() == decode(cairosvg_png(svg, 1)).tobytes()
    assert ours.getpixel((5, 5)) == (255, 0, 0, 255)  # inherited fill
    assert ours.getpixel((15, 5))[3] == 0  # fill="none": the circle's inside stays clear
    red, _green, blue, alpha = ours.getpixel((15, 1))  # its inherited stroke, on the top
    assert blue > 200 and red < 50 and alpha > 200
    assert ours.getpixel((5, 15)) == (255, 0, 0, 255)  # path filled, stroke switched off
    assert ours.getpixel((15, 15)) == (0, 0, 0, 255)  # SVG's initial fill is black


@pytest.mark.parametrize(
    ("item", "message"),
    [
        pytest.param(node("rect", 'width="5" height="5" opacity=".5"'), "opacity", id="attribute"),
        pytest.param(node("ellipse", 'rx="5" ry="3"'), "ellipse", id="element"),
        pytest.param(node("g", 'transform="rotate(45)"'), "rotate", id="transform"),
        pytest.param(node("rect", 'width="5" height="5" fill="red"'), "red", id="colour"),
        pytest.param(node("g", 'clip-path="url(#nowhere)"'), "nowhere", id="clip"),
        pytest.param(node("path", 'd="M1 1 Y2 2"'), "Y", id="path-data"),
    ],
)
def test_what_it_cannot_paint_like_svg_is_refused(item: Node, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        paint(item)
