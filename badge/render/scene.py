"""The badge's drawing as a small tree of SVG elements: one description, two outputs.

svg.py spells the tree as SVG text and raster.py paints it with cairo, so the served SVG
and PNG cannot drift apart. Attribute values are the exact strings the SVG carries (in
the order it carries them), so the PNG is drawn from the same rounded numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape

from badge.render.pathdata import Command

Attrs = tuple[tuple[str, str], ...]

_ATTRIBUTE = re.compile(r'([\w:-]+)="([^"]*)"')
_QUOTE = {'"': "&quot;"}
# Characters XML 1.0 forbids even when escaped; a text containing one would break parsing.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Written with an end tag even when empty, as the badge always wrote its text group.
_CONTAINERS = frozenset({"g", "defs", "clipPath"})


@dataclass(frozen=True, slots=True)
class Node:
    tag: str
    attrs: Attrs = ()
    children: tuple[Node, ...] = ()
    # A path's `d` as drawing commands, when whoever wrote `d` can give them (text.py
    # can): the painter then needn't read the data back. Not part of the SVG.
    drawn: Callable[[], tuple[Command, ...]] | None = None

    def get(self, name: str, default: str = "") -> str:
        for key, value in self.attrs:
            if key == name:
                return value
        return default


def node(tag: str, attrs: str = "", *children: Node) -> Node:
    """A node from attribute text as SVG writes it: node("circle", 'cx="50" cy="50" r="5"')."""
    return Node(tag, tuple(_ATTRIBUTE.findall(attrs)), children)


def to_svg(nodes: tuple[Node, ...]) -> str:
    return "".join(_element(item) for item in nodes)


def xml_text(value: str) -> str:
    """Text as XML character data: escaped, and without the characters XML cannot carry."""
    return escape(_XML_ILLEGAL.sub("", value), {'"': "&quot;", "'": "&apos;"})


def _element(item: Node) -> str:
    # Values are ours (numbers, colours, path data); escaping keeps it that way.
    attrs = "".join(f' {key}="{escape(value, _QUOTE)}"' for key, value in item.attrs)
    if not item.children and item.tag not in _CONTAINERS:
        return f"<{item.tag}{attrs}/>"
    return f"<{item.tag}{attrs}>{to_svg(item.children)}</{item.tag}>"
