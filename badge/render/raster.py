"""Paints the badge's elements (scene.py) with cairo, straight from the tree: no SVG parsing.

It knows the part of SVG the badge uses (g, defs and clipPath, rect, circle and path; fill,
stroke and their width, caps and joins; translate and scale) and refuses anything else.
It draws that part as cairosvg does (the same rounded-rectangle curves, circle arcs, path
arithmetic and miter limit), so the PNG has the pixels of the rasterised SVG.
"""

from __future__ import annotations

import io
import math
import re
from functools import lru_cache
from typing import Any

import cairocffi as cairo

from badge.render.pathdata import Command, commands
from badge.render.scene import Node

# SVG's initial values of the painting properties that children inherit.
_INITIAL: dict[str, str] = {
    "fill": "#000",
    "stroke": "none",
    "stroke-width": "1",
    "stroke-linecap": "butt",
    "stroke-linejoin": "miter",
}
_CAPS = {
    "butt": cairo.LINE_CAP_BUTT,
    "round": cairo.LINE_CAP_ROUND,
    "square": cairo.LINE_CAP_SQUARE,
}
_JOINS = {
    "miter": cairo.LINE_JOIN_MITER,
    "round": cairo.LINE_JOIN_ROUND,
    "bevel": cairo.LINE_JOIN_BEVEL,
}
# The cubic that stands in for a quarter circle in a rounded rectangle (cairosvg's too).
_QUARTER = 4 * (2**0.5 - 1) / 3
# Everything the painter reads; it refuses elements with anything else rather than
# paint them differently from the SVG.
_GEOMETRY = ("x", "y", "width", "height", "rx", "cx", "cy", "r", "d")
_ATTRIBUTES = frozenset({*_INITIAL, *_GEOMETRY, "transform", "clip-path", "id"})
_TRANSFORM = re.compile(r"(\w+)\(([^)]*)\)")
_URL = re.compile(r"url\(#([\w-]+)\)")


def rasterise(nodes: tuple[Node, ...], *, width: int, height: int, scale: int) -> bytes:
    """A `width` × `height` drawing at `scale` as an RGBA PNG, transparent where unpainted."""
    surface = cairo.ImageSurface(cairo.FORMAT_ARGB32, width * scale, height * scale)
    context = cairo.Context(surface)
    context.scale(scale, scale)
    # SVG's initial stroke-miterlimit (cairo's own is 10).
    context.set_miter_limit(4)
    painter = _Painter(context)
    for item in nodes:
        painter.draw(item, _INITIAL)
    output = io.BytesIO()
    surface.write_to_png(output)
    surface.finish()
    return output.getvalue()


class _Painter:
    def __init__(self, context: Any) -> None:
        self.context = context
        self.clips: dict[str, Node] = {}

    def draw(self, item: Node, style: dict[str, str]) -> None:
        _check(item)
        if item.tag == "defs":
            # Definitions paint nothing; the clip paths are used by id further on.
            self.clips.update((c.get("id"), c) for c in item.children if c.tag == "clipPath")
            return
        own = [(key, value) for key, value in item.attrs if key in _INITIAL]
        if own:
            style = {**style, **dict(own)}
        context = self.context
        context.save()
        transform = item.get("transform")
        if transform:
            _transform(context, transform)
        clip = item.get("clip-path")
        if clip:
            self._clip(clip)
        if item.tag == "g":
            for child in item.children:
                self.draw(child, style)
        else:
            _outline(context, item)
            _fill_and_stroke(context, style)
        context.restore()

    def _clip(self, reference: str) -> None:
        match = _URL.fullmatch(reference)
        if match is None or match[1] not in self.clips:
            raise ValueError(f"no clip path {reference!r}")
        for shape in self.clips[match[1]].children:
            _check(shape)
            _outline(self.context, shape)
        self.context.clip()


def _check(item: Node) -> None:
    unknown = [key for key, _value in item.attrs if key not in _ATTRIBUTES]
    if unknown:
        raise ValueError(f"cannot paint {', '.join(unknown)} on <{item.tag}>")


def _outline(context: Any, shape: Node) -> None:
    if shape.tag == "path":
        # A path that opens with a relative moveto starts from the origin.
        context.move_to(0, 0)
        _trace(context, shape.drawn() if shape.drawn else commands(shape.get("d")))
    elif shape.tag == "circle":
        radius = float(shape.get("r", "0"))
        if radius:
            context.new_sub_path()
            cx, cy = float(shape.get("cx", "0")), float(shape.get("cy", "0"))
            context.arc(cx, cy, radius, 0, 2 * math.pi)
            context.close_path()
    elif shape.tag == "rect":
        _rect(context, shape)
    else:
        raise ValueError(f"cannot paint <{shape.tag}>")


def _rect(context: Any, shape: Node) -> None:
    x, y = float(shape.get("x", "0")), float(shape.get("y", "0"))
    width, height = float(shape.get("width", "0")), float(shape.get("height", "0"))
    rx = min(float(shape.get("rx", "0")), width / 2)
    ry = min(rx, height / 2)
    if not rx:
        context.rectangle(x, y, width, height)
        return
    c1, c2 = _QUARTER * rx, _QUARTER * ry
    context.move_to(x + rx, y)
    context.rel_line_to(width - 2 * rx, 0)
    context.rel_curve_to(c1, 0, rx, c2, rx, ry)
    context.rel_line_to(0, height - 2 * ry)
    context.rel_curve_to(0, c2, c1 - rx, ry, -rx, ry)
    context.rel_line_to(-width + 2 * rx, 0)
    context.rel_curve_to(-c1, 0, -rx, -c2, -rx, -ry)
    context.rel_line_to(0, -height + 2 * ry)
    context.rel_curve_to(0, -c2, rx - c1, -ry, rx, -ry)
    context.close_path()


def _trace(context: Any, path: tuple[Command, ...]) -> None:
    # A glyph line is a thousand or so segments: calling cairo directly skips cairocffi's
    # status check after each one (half the time). A bad segment leaves the context in an
    # error state, which the fill or clip that follows reports.
    lib, pointer = cairo.cairo, context._pointer
    calls = {
        "M": lib.cairo_move_to,
        "m": lib.cairo_rel_move_to,
        "L": lib.cairo_line_to,
        "l": lib.cairo_rel_line_to,
        "C": lib.cairo_curve_to,
        "c": lib.cairo_rel_curve_to,
        "Z": lib.cairo_close_path,
    }
    for op, args in path:
        if op == "A":
            _arc(context, args)
        else:
            calls[op](pointer, *args)


def _arc(context: Any, args: tuple[float, ...]) -> None:
    x0, y0, rotation, ratio, cx, cy, radius, start, end, sweep = args
    # cairosvg flattens arc paths with a fine tolerance; matching it keeps the edges alike.
    context.set_tolerance(0.00001)
    context.save()
    context.translate(x0, y0)
    context.rotate(rotation)
    context.scale(1, ratio)
    (context.arc if sweep else context.arc_negative)(cx, cy, radius, start, end)
    context.restore()


def _fill_and_stroke(context: Any, style: dict[str, str]) -> None:
    fill, stroke = style["fill"], style["stroke"]
    if fill != "none":
        context.set_source_rgb(*_colour(fill))
        context.fill_preserve()
    if stroke != "none":
        context.set_source_rgb(*_colour(stroke))
        context.set_line_width(float(style["stroke-width"]))
        context.set_line_cap(_CAPS[style["stroke-linecap"]])
        context.set_line_join(_JOINS[style["stroke-linejoin"]])
        context.stroke_preserve()
    context.new_path()


def _transform(context: Any, text: str) -> None:
    for name, values in _transforms(text):
        if name == "translate":
            context.translate(values[0], values[1] if len(values) > 1 else 0.0)
        elif name == "scale":
            context.scale(values[0], values[-1])
        else:
            raise ValueError(f"cannot paint transform {name!r}")


@lru_cache(maxsize=64)
def _transforms(text: str) -> tuple[tuple[str, tuple[float, ...]], ...]:
    return tuple(
        (name, tuple(float(v) for v in values.replace(",", " ").split()))
        for name, values in _TRANSFORM.findall(text)
    )


@lru_cache(maxsize=64)
def _colour(text: str) -> tuple[float, float, float]:
    digits = text[1:]
    if not text.startswith("#") or len(digits) not in (3, 6):
        raise ValueError(f"cannot paint colour {text!r}")
    if len(digits) == 3:
        digits = "".join(2 * digit for digit in digits)
    red, green, blue = (int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return red, green, blue
