"""SVG path data as drawing commands for cairo, for painting our own paths.

It reads the path data we write (artwork.py by hand, text.py's compact glyph outlines):
the commands of SVG 1.1, numbers separated by spaces, commas or signs, arc flags written
as separate numbers. Relative commands stay relative (cairo's `rel_*` calls add them to
its current point), and quadratics and arcs become cubics and circle arcs with cairosvg's
arithmetic, so a path painted from here lands where the same path in a rasterised SVG does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import lru_cache

# ("M", (x, y)), ("L", (x, y)), ("C", (x1, y1, x2, y2, x, y)), their relative forms
# "m", "l" and "c", ("Z", ()), and ("A", (x0, y0, rotation, ry / rx, cx, cy, rx, angle1,
# angle2, sweep)): a circle arc in a frame at (x0, y0), rotated and squashed by ry / rx.
Command = tuple[str, tuple[float, ...]]

_LETTERS = "MmLlHhVvCcSsQqTtAaZz"
_SEGMENT = re.compile(f"([{_LETTERS}])([^{_LETTERS}]*)")
_NUMBER_TEXT = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER = re.compile(_NUMBER_TEXT)
_NUMBERS = re.compile(rf"(?:[\s,]*{_NUMBER_TEXT})*[\s,]*")
_ARITY = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "A": 7, "Z": 0}


class _Pen:
    """Turns SVG commands into cairo's, tracking the current point as cairosvg does."""

    def __init__(self) -> None:
        self.out: list[Command] = []
        self.x = self.y = 0.0
        self.start = (0.0, 0.0)
        # The last command's letter (upper case), and from its last control point to its
        # end: S mirrors that control point after C or S, T after Q or T.
        self.last = ""
        self.reflect = (0.0, 0.0)
        self.steps: dict[str, Callable[[bool, list[float]], None]] = {
            "M": self._move,
            "L": lambda rel, a: self._emit(rel, "L", (a[0], a[1])),
            "H": lambda rel, a: self._emit(rel, "L", (a[0], 0.0 if rel else self.y)),
            "V": lambda rel, a: self._emit(rel, "L", (0.0 if rel else self.x, a[0])),
            "C": lambda rel, a: self._cubic(rel, a[0], a[1], a[2], a[3], a[4], a[5]),
            "S": lambda rel, a: self._cubic(rel, *self._mirror(rel, "CS"), *a),
            "Q": lambda rel, a: self._quad(rel, a[0], a[1], a[2], a[3]),
            "T": lambda rel, a: self._quad(rel, *self._mirror(rel, "QT"), a[0], a[1]),
            "A": self._arc,
        }

    def step(self, letter: str, numbers: list[float]) -> None:
        upper = letter.upper()
        if upper == "Z":
            self.out.append(("Z", ()))
            self.x, self.y = self.start
        else:
            self.steps[upper](letter != upper, numbers)
        self.last = upper

    def _emit(self, relative: bool, op: str, args: tuple[float, ...]) -> None:
        if relative:
            self.out.append((op.lower(), args))
            self.x, self.y = self.x + args[-2], self.y + args[-1]
        else:
            self.out.append((op, args))
            self.x, self.y = args[-2], args[-1]

    def _move(self, relative: bool, a: list[float]) -> None:
        self._emit(relative, "M", (a[0], a[1]))
        self.start = (self.x, self.y)

    def _mirror(self, relative: bool, after: str) -> tuple[float, float]:
        dx, dy = self.reflect if self.last and self.last in after else (0.0, 0.0)
        return (dx, dy) if relative else (self.x + dx, self.y + dy)

    def _cubic(
        self, rel: bool, x1: float, y1: float, x2: float, y2: float, x: float, y: float
    ) -> None:
        self._emit(rel, "C", (x1, y1, x2, y2, x, y))
        self.reflect = (x - x2, y - y2)

    def _quad(self, relative: bool, qx: float, qy: float, x: float, y: float) -> None:
        # In relative numbers the curve starts at (0, 0).
        ox, oy = (0.0, 0.0) if relative else (self.x, self.y)
        self._emit(relative, "C", cubic_of_quad(qx, qy, x, y, ox, oy))
        self.reflect = (x - qx, y - qy)

    def _arc(self, relative: bool, a: list[float]) -> None:
        rx, ry, degrees, large, sweep, dx, dy = a
        if not relative:
            dx, dy = dx - self.x, dy - self.y
        if not rx or not ry:
            self._emit(True, "L", (dx, dy))
            return
        rotation, ratio = math.radians(degrees), ry / rx
        # In a frame at the start point, unrotated and stretched to a circle, the end point
        # lies on the x axis after one more rotation; the centre sits on its perpendicular.
        ex, ey = _rotate(dx, dy, -rotation)
        ey /= ratio
        angle = math.atan2(ey, ex)
        chord = math.hypot(ex, ey)
        rx = max(rx, chord / 2)
        cx, cy = chord / 2, math.sqrt(max(rx**2 - (chord / 2) ** 2, 0.0))
        if (large != 0) == (sweep != 0):
            cy = -cy
        ex, ey = _rotate(chord, 0, angle)
        cx, cy = _rotate(cx, cy, angle)
        start, end = math.atan2(0 - cy, 0 - cx), math.atan2(ey - cy, ex - cx)
        arc = (self.x, self.y, rotation, ratio, cx, cy, rx, start, end, float(sweep != 0))
        self.out.append(("A", arc))
        self.x, self.y = self.x + dx, self.y + dy


def cubic_of_quad(
    qx: float, qy: float, x: float, y: float, ox: float = 0.0, oy: float = 0.0
) -> tuple[float, ...]:
    """The cubic for a quadratic from (ox, oy) via (qx, qy) to (x, y), in cairosvg's arithmetic."""
    return (qx * 2 / 3 + ox / 3, qy * 2 / 3 + oy / 3, qx * 2 / 3 + x / 3, qy * 2 / 3 + y / 3, x, y)


def _rotate(x: float, y: float, angle: float) -> tuple[float, float]:
    return x * math.cos(angle) - y * math.sin(angle), y * math.cos(angle) + x * math.sin(angle)


# For the artwork's few paths; text comes with its commands (text.py).
@lru_cache(maxsize=32)
def commands(d: str) -> tuple[Command, ...]:
    """Drawing commands for path data `d`; raises ValueError on data it cannot read."""
    d = d.strip()
    if d and d[0] not in _LETTERS:
        raise ValueError(f"path data starts with {d[0]!r}, not a command")
    pen = _Pen()
    for letter, text in _SEGMENT.findall(d):
        arity = _ARITY[letter.upper()]
        if not _NUMBERS.fullmatch(text):
            raise ValueError(f"cannot read path data at {letter}{text[:20]!r}")
        numbers = [float(number) for number in _NUMBER.findall(text)]
        if arity == 0:
            if numbers:
                raise ValueError("numbers after a closepath")
            pen.step(letter, numbers)
            continue
        if not numbers or len(numbers) % arity:
            raise ValueError(f"{len(numbers)} numbers for {letter!r}, not a multiple of {arity}")
        for i in range(0, len(numbers), arity):
            pen.step(letter, numbers[i : i + arity])
            # Numbers after a moveto's first pair are linetos.
            letter = {"M": "L", "m": "l"}.get(letter, letter)
    return tuple(pen.out)
