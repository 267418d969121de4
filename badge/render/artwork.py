"""The badge marks, drawn by us as SVG elements in a 100×100 box (the circle's bounding box).

`certified` is the BeCommerce thumbs-up on the brand blue. Every other mark is grey and
never shows the thumbs-up, so a badge that is not certified cannot pass for one.
"""

from __future__ import annotations

from typing import Literal

from badge.render.scene import Node, node, to_svg

Mark = Literal["certified", "neutral", "mismatch", "lookup", "error"]

# White on this blue has a contrast ratio of about 8.4:1 (WCAG AAA).
BRAND_BLUE = "#0b4f9c"
NEUTRAL_GREY = "#676c73"
# The "check this shop" mark for a badge shown without a Referer: a slate blue that reads as
# an invitation, clearly not the brand blue of the thumbs-up.
LOOKUP_SLATE = "#4f6478"
ERROR_SLATE = "#4a4f57"

MARK_FILL: dict[Mark, str] = {
    "certified": BRAND_BLUE,
    "neutral": NEUTRAL_GREY,
    "mismatch": NEUTRAL_GREY,
    "lookup": LOOKUP_SLATE,
    "error": ERROR_SLATE,
}

# A cuff, then palm and thumb as one outline, then three lower fingers as pills whose
# gaps read as knuckle creases. The index finger is part of the palm outline.
THUMBS_UP = (
    "M22 48.5a2.5 2.5 0 0 1 2.5-2.5h6.5a2.5 2.5 0 0 1 2.5 2.5v27a2.5 2.5 0 0 1-2.5 2.5h-6.5"
    "a2.5 2.5 0 0 1-2.5-2.5z"
    "M37 49.5C37 46.5 38.3 44.6 40.5 42.8L45 39C46.7 37.6 47.6 35.6 47.7 33.5L48 26.3"
    "C48.2 22.4 50.8 19.5 54.5 19.5C58.2 19.5 61 22.4 60.8 26.5C60.6 31.5 60.2 36 59 40.5"
    "H75a4.25 4.25 0 0 1 0 8.5H61V78H41.5a4.5 4.5 0 0 1-4.5-4.5z"
    "M57 51h17.3a3.9 3.9 0 0 1 0 7.8H57z"
    "M57 60.6h15.6a3.75 3.75 0 0 1 0 7.5H57z"
    "M57 69.9h13.3a4.05 4.05 0 0 1 0 8.1H57z"
)

# Stroked symbols: round caps keep them soft and legible down to 16 px.
_QUESTION = (
    node(
        "path",
        'fill="none" stroke="#fff" stroke-width="9" stroke-linecap="round" '
        'stroke-linejoin="round" d="M38.5 38.5a11.5 11.5 0 1 1 16.5 10.4c-3.2 1.6-5 4-5 7.6v2.2"',
    ),
    node("circle", 'fill="#fff" cx="50" cy="71.5" r="5.6"'),
)
_NOT_VALID = (
    node(
        "g",
        'fill="none" stroke="#fff" stroke-width="7.5"',
        node("circle", 'cx="50" cy="50" r="22"'),
        node("path", 'd="M34.4 65.6 65.6 34.4"'),
    ),
)
_MAGNIFIER = (
    node(
        "g",
        'fill="none" stroke="#fff" stroke-linecap="round"',
        node("circle", 'cx="44" cy="44" r="16" stroke-width="8"'),
        node("path", 'stroke-width="10" d="M56 56 70 70"'),
    ),
)
_EXCLAMATION = (
    node("path", 'stroke="#fff" stroke-width="10" stroke-linecap="round" d="M50 28v24"'),
    node("circle", 'fill="#fff" cx="50" cy="70" r="6"'),
)

_SYMBOLS: dict[Mark, tuple[Node, ...]] = {
    "certified": (node("path", f'fill="#fff" d="{THUMBS_UP}"'),),
    "neutral": _QUESTION,
    "mismatch": _NOT_VALID,
    "lookup": _MAGNIFIER,
    "error": _EXCLAMATION,
}


def mark_node(mark: Mark, *, x: float, y: float, diameter: float) -> Node:
    """The mark with its top-left corner at (x, y), `diameter` px wide."""
    fill = MARK_FILL[mark]
    # A faint inner ring gives the circle the finish of a seal; an opaque tint instead of
    # stroke-opacity keeps the colour count low for palette PNGs.
    ring = _mix(fill, "#ffffff", 0.3)
    place = f"translate({number(x)} {number(y)}) scale({number(diameter / 100, 4)})"
    return Node(
        "g",
        (("transform", place),),
        (
            node("circle", f'cx="50" cy="50" r="50" fill="{fill}"'),
            node(
                "circle", f'cx="50" cy="50" r="45.5" fill="none" stroke="{ring}" stroke-width="1.4"'
            ),
            *_SYMBOLS[mark],
        ),
    )


def mark_svg(mark: Mark, *, x: float, y: float, diameter: float) -> str:
    return to_svg((mark_node(mark, x=x, y=y, diameter=diameter),))


def number(value: float, places: int = 2) -> str:
    """Shortest SVG spelling of `value` rounded to `places` decimals: 0.5 -> .5, 2.0 -> 2."""
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    if text.startswith("0."):
        text = text[1:]
    elif text.startswith("-0."):
        text = "-" + text[2:]
    return "0" if text in ("", "-0") else text


def _mix(colour: str, other: str, amount: float) -> str:
    a = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(other[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * amount):02x}" for x, y in zip(a, b, strict=True))
