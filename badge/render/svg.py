"""The badge as SVG: a landscape seal with the mark on the left and text (as paths) on the right.

`drawing` lays the badge out as elements (scene.py); `render_svg` spells them as SVG, and
the PNG (png.py) paints the same elements with cairo.

Output is deterministic (same view and token, same bytes) so it can be cached and
ETagged, and compact because it is served on every page view of every certified shop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from badge.render.artwork import BRAND_BLUE, MARK_FILL, Mark, mark_node, number
from badge.render.baking import ELEMENT, NAMESPACE, PREFIX
from badge.render.fonts import Weight, cap_height, has_glyphs
from badge.render.scene import Node, node, to_svg, xml_text
from badge.render.text import GRID, fit_text, text_path, wrap_text
from badge.vocabulary import CATEGORY_COLOURS, LANGS, SIZES, Lang, Size

__all__ = ["BadgeView", "Mark", "check_token", "drawing", "render_svg"]

TITLE_ID = "kb-title"
INK = "#1f2630"
MUTED_INK = "#3d434b"
SHOP_INK = "#58606b"
BORDER = "#d5dae1"

_TOKEN = re.compile(r"[A-Za-z0-9_\-.]+")


@dataclass(frozen=True, slots=True)
class BadgeView:
    mark: Mark
    size: Size
    lang: Lang
    headline: str
    status_line: str
    label: str
    shop_name: str | None
    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Layout:
    pad: float  # around the mark; the mark's diameter is height - 2 * pad
    gap: float  # between mark and text
    right: float
    radius: float
    bar: float  # height of the category accent bar
    headline: tuple[float, float]  # font size and its minimum
    status: tuple[float, float]
    shop: tuple[float, float] | None  # None: this size has no room for the shop name
    leading: float  # baseline-to-baseline distance as a multiple of the font size


_LAYOUTS: dict[Size, _Layout] = {
    "s": _Layout(
        pad=4, gap=7, right=7, radius=5, bar=3,
        headline=(11, 9), status=(10.5, 9.5), shop=None, leading=1.18,
    ),
    "m": _Layout(
        pad=6, gap=10, right=10, radius=7, bar=4,
        headline=(15, 12), status=(13, 10.5), shop=(11.5, 9.5), leading=1.22,
    ),
    "l": _Layout(
        pad=8, gap=13, right=13, radius=9, bar=5,
        headline=(20, 16), status=(17, 13.5), shop=(15, 12), leading=1.22,
    ),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Line:
    text: str
    size: float
    weight: Weight
    colour: str


def check_token(token: str) -> str:
    """A compact JWS only has base64url characters and dots; anything else could escape CDATA."""
    if not _TOKEN.fullmatch(token):
        raise ValueError("token is not a compact JWS")
    return token


def render_svg(view: BadgeView, *, token: str | None) -> str:
    nodes = drawing(view)
    width, height = SIZES[view.size]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:{PREFIX}="{NAMESPACE}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{TITLE_ID}">'
    ]
    if token is not None:
        parts.append(f"<{PREFIX}:{ELEMENT}><![CDATA[{check_token(token)}]]></{PREFIX}:{ELEMENT}>")
    parts.append(f'<title id="{TITLE_ID}" xml:lang="{view.lang}">{xml_text(view.label)}</title>')
    parts.append(to_svg(nodes))
    parts.append("</svg>")
    return "".join(parts)


def drawing(view: BadgeView) -> tuple[Node, ...]:
    """What the badge shows, as elements: the SVG spells them out, the PNG paints them."""
    if view.size not in SIZES or view.lang not in LANGS or view.mark not in MARK_FILL:
        raise ValueError(f"cannot render {view.mark!r} at size {view.size!r} in {view.lang!r}")
    width, height = SIZES[view.size]
    layout = _LAYOUTS[view.size]
    # Mark and text are centred in the space above the category bar, when there is one.
    inner = height - (layout.bar if _category_colours(view) else 0)
    diameter = height - 2 * layout.pad
    top = (inner - diameter) / 2
    return (
        *_frame(view, width, height, layout),
        mark_node(view.mark, x=layout.pad, y=top, diameter=diameter),
        _text(view, width, inner, layout),
    )


def _frame(view: BadgeView, width: int, height: int, layout: _Layout) -> tuple[Node, ...]:
    radius = number(layout.radius)
    # The border sits on half-pixel coordinates so a 1 px line stays crisp at scale 1.
    border = node(
        "rect",
        f'x=".5" y=".5" width="{width - 1}" height="{height - 1}" rx="{radius}" '
        f'fill="#fff" stroke="{BORDER}"',
    )
    colours = _category_colours(view)
    if not colours:
        return (border,)
    # Equal segments along the bottom edge, clipped to the rounded frame.
    segment = width / len(colours)
    bars = tuple(
        Node(
            "rect",
            (
                ("x", number(i * segment)),
                ("y", number(height - layout.bar)),
                ("width", number(segment + (0 if i == len(colours) - 1 else 0.5))),
                ("height", number(layout.bar)),
                ("fill", colour),
            ),
        )
        for i, colour in enumerate(colours)
    )
    clip = node("rect", f'width="{width}" height="{height}" rx="{radius}"')
    return (
        border,
        Node("defs", (), (node("clipPath", 'id="kb-clip"', clip),)),
        Node("g", (("clip-path", "url(#kb-clip)"),), bars),
    )


def _category_colours(view: BadgeView) -> list[str]:
    if view.mark != "certified":
        return []
    # Fixed order, so the same categories always give the same bar whatever the input order.
    chosen = set(view.categories)
    return [colour for key, colour in CATEGORY_COLOURS.items() if key in chosen]


def _text(view: BadgeView, width: int, inner: float, layout: _Layout) -> Node:
    left = SIZES[view.size][1] - layout.pad + layout.gap
    room = width - left - layout.right
    certified = view.mark == "certified"
    headline, headline_size = fit_text(
        view.headline,
        max_width=room,
        size=layout.headline[0],
        min_size=layout.headline[1],
        weight="bold",
    )
    lines = [_Line(headline, headline_size, "bold", BRAND_BLUE if certified else MUTED_INK)]
    # Each line is at most as large as the one above it, so a headline that had to
    # shrink never ends up smaller than the status under it.
    status_lines, status_size = wrap_text(
        view.status_line,
        max_width=room,
        size=min(layout.status[0], headline_size),
        min_size=layout.status[1],
        weight="semibold",
    )
    status_colour = INK if certified else MUTED_INK
    lines.extend(_Line(text, status_size, "semibold", status_colour) for text in status_lines)
    # The state matters more than the name: a status on two lines takes the name's line.
    if len(status_lines) == 1:
        shop = _shop_line(view.shop_name, room, layout, below=status_size)
        if shop is not None:
            lines.append(shop)
    return _place(lines, left, inner, layout)


def _shop_line(name: str | None, room: float, layout: _Layout, *, below: float) -> _Line | None:
    if layout.shop is None or name is None:
        return None
    name = " ".join(name.split())
    if not name or not has_glyphs(name, "regular"):
        return None
    size, min_size = layout.shop
    text, fitted = fit_text(
        name, max_width=room, size=min(size, below), min_size=min_size, weight="regular"
    )
    return _Line(text, fitted, "regular", SHOP_INK)


def _place(lines: list[_Line], left: float, bottom: float, layout: _Layout) -> Node:
    # Centre the block from the first line's cap height to the last baseline, which is
    # what the eye reads as the text's extent.
    baselines = [cap_height(lines[0].size, lines[0].weight)]
    for line in lines[1:]:
        baselines.append(baselines[-1] + line.size * layout.leading)
    top = (bottom - baselines[-1]) / 2
    paths: list[Node] = []
    for line, baseline in zip(lines, baselines, strict=True):
        path = text_path(line.text, x=left, y=top + baseline, size=line.size, weight=line.weight)
        if path.d:
            paths.append(Node("path", (("fill", line.colour), ("d", path.d)), (), path.commands))
    return Node("g", (("transform", f"scale({number(1 / GRID)})"),), tuple(paths))
