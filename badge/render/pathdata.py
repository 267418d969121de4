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
from functools import lru_cache

# ("M", (x, y)), ("L", (x, y)), ("C", (x1, y1, x2, y2, x, y)), their relative forms
# "m", "l" and "c", ("Z", ()), and ("A", (x0, y0, rotation, ry / rx, cx, cy, rx, angle1,
# angle2, sweep)): a circle arc in a frame at (x0, y0), rotated and squashed by ry / rx.
Command = tuple[str, tuple[float, ...]]

_TOKEN = re.compile(r"[A-Za-z]|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_ARITY = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "A": 7, "Z": 0}


class _Pen:
    def __init__(self) -> None:
        self.out: list[Command] = []
        self.x = self.y = 0.0
        self.start = (0.0, 0.0)
        # From the previous curve's last control point to its end, for S and T.
        self.cubic = self.quad = (0.0, 0.0)

    def step(self, letter: str, a: list[float]) -> None:
        upper = letter.upper()
        relative = letter != upper
        # Where this command's numbers are measured from.
        ox, oy = (0.0, 0.0) if relative else (self.x, self.y)
        cubic, quad = self.cubic, self.quad
        self.cubic = self.quad = (0.0, 0.0)
        if upper == "M":
            self._emit(letter, a[0], a[1])
            self.start = (self.x, self.y)
        elif upper == "L":
            self._emit(letter, a[0], a[1])
        elif upper == "H":
            self._emit(letter, *((a[0], 0.0) if relative else (a[0], self.y)))
        elif upper == "V":
            self._emit(letter, *((0.0, a[0]) if relative else (self.x, a[0])))
        elif upper in "CS":
            head = tuple(a[:2]) if upper == "C" else (ox + cubic[0], oy + cubic[1])
            *_, x2, y2, x, y = a
            self._emit("c" if relative else "C", *head, x2, y2, x, y)
            self.cubic = (x - x2, y - y2)
        elif upper in "QT":
            qx, qy = (a[0], a[1]) if upper == "Q" else (ox + quad[0], oy + quad[1])
            x, y = a[-2], a[-1]
            self._emit(
                "c" if relative else "C",
                qx * 2 / 3 + ox / 3,
                qy * 2 / 3 + oy / 3,
                qx * 2 / 3 + x / 3,
                qy * 2 / 3 + y / 3,
                x,
                y,
            )
            self.quad = (x - qx, y - qy)
        elif upper == "A":
            end = (a[5], a[6]) if relative else (a[5] - self.x, a[6] - self.y)
            self._arc(a[0], a[1], a[2], a[3] != 0, a[4] != 0, *end)
        else:
            self.out.append(("Z", ()))
            self.x, self.y = self.start

    def _emit(self, op: str, *args: float) -> None:
        op = "l" if op in "hv" else "L" if op in "HV" else op
        self.out.append((op, args))
        if op.islower():
            self.x, self.y = self.x + args[-2], self.y + args[-1]
        else:
            self.x, self.y = args[-2], args[-1]

    def _arc(
        self, rx: float, ry: float, degrees: float, large: bool, sweep: bool, dx: float, dy: float
    ) -> None:
        if not rx or not ry:
            self._emit("l", dx, dy)
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
        if large == sweep:
            cy = -cy
        ex, ey = _rotate(chord, 0, angle)
        cx, cy = _rotate(cx, cy, angle)
        start, end = math.atan2(0 - cy, 0 - cx), math.atan2(ey - cy, ex - cx)
        arc = (self.x, self.y, rotation, ratio, cx, cy, rx, start, end, float(sweep))
        self.out.append(("A", arc))
        self.x, self.y = self.x + dx, self.y + dy


def _rotate(x: float, y: float, angle: float) -> tuple[float, float]:
    return x * math.cos(angle) - y * math.sin(angle), y * math.cos(angle) + x * math.sin(angle)


@lru_cache(maxsize=512)
def commands(d: str) -> tuple[Command, ...]:
    """Drawing commands for path data `d`; raises ValueError on data it cannot read."""
    tokens = _TOKEN.findall(d)
    pen = _Pen()
    letter, i = "", 0
    while i < len(tokens):
        token = tokens[i]
        if token.isalpha():
            letter, i = token, i + 1
            if letter.upper() not in _ARITY:
                raise ValueError(f"unknown path command {letter!r}")
            if letter in "Zz":
                pen.step(letter, [])
                continue
        elif letter in ("", "Z", "z"):
            raise ValueError("path data has numbers without a command")
        arity = _ARITY[letter.upper()]
        values = tokens[i : i + arity]
        if len(values) < arity or any(value.isalpha() for value in values):
            raise ValueError(f"too few numbers for {letter!r} in path data")
        pen.step(letter, [float(value) for value in values])
        i += arity
        # Numbers after a moveto's first pair are linetos.
        letter = {"M": "L", "m": "l"}.get(letter, letter)
    return tuple(pen.out)
