"""Text as SVG path data (and as cairo drawing commands for the PNG), so badges never
depend on the fonts of whoever renders them.

Glyph outlines come from the Source Sans Pro TTFs shipped in the `font_source_sans_pro`
package. Paths are written on a grid of 1/GRID px with relative integer coordinates:
that keeps a badge's text to a few KB. Callers scale the path by 1/GRID.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from badge.render.fonts import Command, Point, Weight, get_font, glyph_run, outline_of, text_width
from badge.render.pathdata import Command as DrawCommand
from badge.render.pathdata import cubic_of_quad

GRID = 10
ELLIPSIS = "…"

GridPoint = tuple[int, int]


@dataclass(frozen=True, slots=True)
class TextPath:
    d: str  # path data in 1/GRID px units, absolute start then relative commands
    width: float  # advance width in px
    # The text, size and weight it was written for, to fetch its drawing commands by.
    line: tuple[str, float, Weight] = field(default=("", 0.0, "regular"), compare=False)
    origin: tuple[float, float] = (0.0, 0.0)  # the absolute start of `d`

    def commands(self) -> tuple[DrawCommand, ...]:
        """`d` as cairo drawing commands (pathdata.py), from the pass that wrote `d`."""
        if not self.d:
            return ()
        _start, _body, drawn, _width = _written(*self.line)
        return (("M", self.origin), *drawn)


class _Writer:
    """Emits relative path commands from absolute grid points, so rounding never drifts."""

    def __init__(self, x: int, y: int) -> None:
        self.parts: list[str] = []
        self.drawn: list[DrawCommand] = []
        self.x, self.y = x, y
        self.last = ""
        self.control: GridPoint | None = None
        self.start: GridPoint | None = None

    def command(self, letter: str, points: list[GridPoint]) -> None:
        if letter == "m" and self.start is None:
            # The first moveto is left to the caller, who makes it absolute.
            self.start = points[0]
            self.last = "m"
            self.x, self.y = points[0]
            return
        if letter == "q" and _nearly_straight((self.x, self.y), *points):
            letter, points = "l", points[1:]
        control = points[0] if letter == "q" else None
        if letter == "q" and self.control is not None:
            # TrueType curves chain through implied midpoints, so the control point is
            # (within a grid unit of) the mirror of the previous one: "t" saves two numbers.
            mirror = (2 * self.x - self.control[0], 2 * self.y - self.control[1])
            if abs(mirror[0] - points[0][0]) <= 1 and abs(mirror[1] - points[0][1]) <= 1:
                letter, points, control = "t", points[1:], mirror
        numbers: list[int] = []
        for px, py in points:
            numbers.extend((px - self.x, py - self.y))
        if letter == "l" and numbers[1] == 0:
            letter, numbers = "h", numbers[:1]
        elif letter == "l" and numbers[0] == 0:
            letter, numbers = "v", numbers[1:]
        self.drawn.append(self._drawn(letter, numbers, control))
        body = _join(numbers)
        # A repeated command letter may be left out (except after a moveto).
        if letter == self.last and letter != "m":
            self.parts.append(body if body.startswith("-") else " " + body)
        else:
            self.parts.append(letter + body)
        self.last = letter
        self.control = control
        self.x, self.y = points[-1]

    def _drawn(self, letter: str, numbers: list[int], control: GridPoint | None) -> DrawCommand:
        if letter in "qt" and control is not None:
            qx, qy = control[0] - self.x, control[1] - self.y
            return (
                "c",
                cubic_of_quad(float(qx), float(qy), float(numbers[-2]), float(numbers[-1])),
            )
        if letter == "h":
            return ("l", (float(numbers[0]), 0.0))
        if letter == "v":
            return ("l", (0.0, float(numbers[0])))
        return (letter, tuple(float(number) for number in numbers))

    def close(self, start: GridPoint) -> None:
        self.drawn.append(("Z", ()))
        self.parts.append("z")
        self.last = "z"
        self.control = None
        self.x, self.y = start


def _nearly_straight(start: GridPoint, control: GridPoint, end: GridPoint) -> bool:
    # A curve whose control point is within 3/4 of a grid unit of its chord draws as a
    # line at any scale we render, and a line costs two numbers less.
    dx, dy = end[0] - start[0], end[1] - start[1]
    length = (dx * dx + dy * dy) ** 0.5
    if length == 0:
        return False
    offset = abs((control[0] - start[0]) * dy - (control[1] - start[1]) * dx) / length
    within = all(
        min(a, b) - 1 <= c <= max(a, b) + 1 for a, b, c in zip(start, end, control, strict=True)
    )
    return offset <= 0.75 and within


def _join(numbers: list[int]) -> str:
    out: list[str] = []
    for number in numbers:
        if out and number >= 0:
            out.append(" ")
        out.append(str(number))
    return "".join(out)


@lru_cache(maxsize=2048)
def _relative_path(text: str, size: float, weight: Weight) -> tuple[GridPoint | None, str, float]:
    start, body, _drawn, width = _written(text, size, weight)
    return start, body, width


# A line's drawing commands weigh some 90 KB, its path data 2: only the last few lines
# (the headlines and states in use, the shop a PNG is being painted for) keep them.
@lru_cache(maxsize=32)
def _written(
    text: str, size: float, weight: Weight
) -> tuple[GridPoint | None, str, tuple[DrawCommand, ...], float]:
    font = get_font(weight)
    scale = size * GRID / font.upm
    writer = _Writer(0, 0)
    pen_x = 0

    def grid(point: Point) -> GridPoint:
        return round((pen_x + point[0]) * scale), round(-point[1] * scale)

    for glyph, advance in glyph_run(text, weight):
        if glyph is not None:
            _draw(writer, outline_of(weight, glyph), grid)
        pen_x += advance
    return writer.start, "".join(writer.parts), tuple(writer.drawn), pen_x * size / font.upm


def _draw(
    writer: _Writer, outline: tuple[Command, ...], grid: Callable[[Point], GridPoint]
) -> None:
    start = (writer.x, writer.y)
    for op, args in outline:
        points = [grid(p) for p in args if p is not None]
        if op == "moveTo":
            writer.command("m", points)
            start = points[0]
        elif op == "lineTo":
            if points[0] != (writer.x, writer.y):
                writer.command("l", points)
        elif op == "qCurveTo" and args[-1] is None:
            # A closed contour made only of off-curve points starts at an implied midpoint.
            start = _mid(points[-1], points[0])
            writer.command("m", [start])
            for i, control in enumerate(points):
                writer.command("q", [control, _mid(control, points[(i + 1) % len(points)])])
        elif op == "qCurveTo":
            # TrueType runs of off-curve points have implied on-curve points between them.
            *controls, end = points
            for i, control in enumerate(controls):
                target = end if i == len(controls) - 1 else _mid(control, controls[i + 1])
                writer.command("q", [control, target])
        elif op == "curveTo":
            for i in range(0, len(points), 3):
                writer.command("c", points[i : i + 3])
        elif op in ("closePath", "endPath"):
            writer.close(start)


def _mid(a: GridPoint, b: GridPoint) -> GridPoint:
    return round((a[0] + b[0]) / 2), round((a[1] + b[1]) / 2)


def text_path(text: str, *, x: float, y: float, size: float, weight: Weight) -> TextPath:
    """Path data for `text` with its baseline starting at (x, y) px, in 1/GRID px units."""
    start, body, width = _relative_path(text, size, weight)
    if start is None:
        return TextPath(d="", width=width)
    x0, y0 = round(x * GRID) + start[0], round(y * GRID) + start[1]
    return TextPath(
        d=f"M{x0} {y0}{body}",
        width=width,
        line=(text, size, weight),
        origin=(float(x0), float(y0)),
    )


def fit_text(
    text: str, *, max_width: float, size: float, min_size: float, weight: Weight
) -> tuple[str, float]:
    """Shrink `text` to fit `max_width`, not below `min_size`, then cut it with an ellipsis."""
    min_size = min(min_size, size)
    width = text_width(text, size=size, weight=weight)
    if width <= max_width:
        return text, size
    shrunk = _floor_tenth(size * max_width / width)
    if shrunk >= min_size:
        return text, shrunk
    return truncate(text, max_width=max_width, size=min_size, weight=weight), min_size


def truncate(text: str, *, max_width: float, size: float, weight: Weight) -> str:
    if text_width(text, size=size, weight=weight) <= max_width:
        return text
    chars = list(unicodedata.normalize("NFC", text))
    # Binary search for the longest prefix that fits with the ellipsis.
    low, high = 0, len(chars)
    while low < high:
        middle = (low + high + 1) // 2
        candidate = "".join(chars[:middle]).rstrip() + ELLIPSIS
        if text_width(candidate, size=size, weight=weight) <= max_width:
            low = middle
        else:
            high = middle - 1
    return "".join(chars[:low]).rstrip(" ,.:;-–—") + ELLIPSIS


def wrap_text(
    text: str, *, max_width: float, size: float, min_size: float, weight: Weight
) -> tuple[tuple[str, ...], float]:
    """One line if it fits at `min_size` or more, else the best two-line split."""
    single, single_size = fit_text(
        text, max_width=max_width, size=size, min_size=min_size, weight=weight
    )
    if single == text:
        return (text,), single_size
    words = text.split(" ")
    best: tuple[float, str, str] | None = None
    for i in range(1, len(words)):
        first, second = " ".join(words[:i]), " ".join(words[i:])
        widest = max(
            text_width(first, size=size, weight=weight),
            text_width(second, size=size, weight=weight),
        )
        if best is None or widest < best[0]:
            best = (widest, first, second)
    if best is None:
        return (single,), single_size
    widest, first, second = best
    fitted = size if widest <= max_width else max(min_size, _floor_tenth(size * max_width / widest))
    lines = tuple(
        truncate(line, max_width=max_width, size=fitted, weight=weight) for line in (first, second)
    )
    return lines, fitted


def _floor_tenth(value: float) -> float:
    return int(value * 10) / 10
