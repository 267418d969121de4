from __future__ import annotations

import io

import cairosvg
import pytest
from PIL import Image

from badge.render.artwork import THUMBS_UP
from badge.render.pathdata import commands
from badge.render.raster import rasterise
from badge.render.scene import Node, to_svg


def test_relative_numbers_stay_relative_and_lines_follow_a_moveto() -> None:
    assert commands("M1 2 3 4m5-6 .5.5l1 1h2v-3H7V8z") == (
        ("M", (1.0, 2.0)),
        ("L", (3.0, 4.0)),
        ("m", (5.0, -6.0)),
        ("l", (0.5, 0.5)),
        ("l", (1.0, 1.0)),
        ("l", (2.0, 0.0)),
        ("l", (0.0, -3.0)),
        # Absolute H and V keep the other coordinate of the current point.
        ("L", (7.0, -3.5)),
        ("L", (7.0, 8.0)),
        ("Z", ()),
    )


def test_quadratics_become_cubics_and_t_mirrors_the_last_control_point() -> None:
    assert commands("M0 0q3 3 6 0t6 0") == (
        ("M", (0.0, 0.0)),
        ("c", (2.0, 2.0, 4.0, 2.0, 6.0, 0.0)),
        # The control point (3, 3) mirrored through (6, 0) is (9, -3): 3 -3 from here.
        ("c", (2.0, -2.0, 4.0, -2.0, 6.0, 0.0)),
    )


def test_a_closed_path_continues_from_its_start() -> None:
    (*_, last) = commands("M10 10h5v5zm2 2h1")
    assert last == ("l", (1.0, 0.0))
    # The arc's frame starts where z left the pen.
    arc = commands("M10 10h5zA2 2 0 0 1 14 10")[-1]
    assert arc[0] == "A" and arc[1][:2] == (10.0, 10.0)


@pytest.mark.parametrize(
    "d",
    [
        pytest.param("1 2", id="no-command"),
        pytest.param("M1 2 3", id="too-few"),
        pytest.param("M1 2L3z", id="letter-for-a-number"),
        pytest.param("M1 2B3 4", id="unknown-command"),
        pytest.param("M1 2z3 4", id="numbers-after-z"),
    ],
)
def test_data_it_cannot_read_is_refused(d: str) -> None:
    with pytest.raises(ValueError):
        commands(d)


# Every command, absolute and relative, in the spellings SVG allows: drawn by us and by
# cairosvg from the same data, the pixels agree exactly.
PATHS = [
    pytest.param(THUMBS_UP, id="thumbs-up"),
    pytest.param("M10 10L90 10 90 50H50V90h-30v-20l-10-10z", id="lines"),
    pytest.param("M10 80C20 10 80 10 90 80S60 60 50 90c-10-10-30 0-40-10z", id="cubic"),
    pytest.param("M10 50Q30 10 50 50T90 50q-20 30-40 0t-40 0z", id="quadratic"),
    pytest.param("M50 10a40 20 30 1 1-20 60A30 30 0 0 0 80 40a10 10 0 1 1 0 .1z", id="arcs"),
    pytest.param("M20 20a0 10 0 0 1 30 30l20-20z", id="flat-arc"),
    pytest.param("m10 10 20 0 0 20-20 0zm50 50h20v20h-20z", id="subpaths"),
    pytest.param("M1e1 1E1l8e0-0 .5-1.5e1 1,1Z", id="number-spellings"),
]


@pytest.mark.parametrize("d", PATHS)
def test_paths_paint_as_cairosvg_draws_them(d: str) -> None:
    shapes = (
        Node("path", (("fill", "#0b4f9c"), ("d", d))),
        Node(
            "path",
            (("fill", "none"), ("stroke", "#ee8a00"), ("stroke-linecap", "round"), ("d", d)),
        ),
    )
    ours = rasterise(shapes, width=100, height=100, scale=2)
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">{to_svg(shapes)}</svg>'
    theirs = cairosvg.svg2png(bytestring=svg.encode(), scale=2)
    image = Image.open(io.BytesIO(ours))
    assert image.getbbox() is not None  # something was drawn
    assert image.tobytes() == Image.open(io.BytesIO(theirs)).tobytes()
