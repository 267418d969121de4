from __future__ import annotations

from badge.render.scene import Node, node, to_svg


def test_attributes_keep_their_order_and_text() -> None:
    item = node("circle", 'fill="#fff" cx="50" cy="71.5" r="5.6"')
    assert item.attrs == (("fill", "#fff"), ("cx", "50"), ("cy", "71.5"), ("r", "5.6"))
    assert item.get("cy") == "71.5"
    assert item.get("stroke", "none") == "none"
    assert to_svg((item,)) == '<circle fill="#fff" cx="50" cy="71.5" r="5.6"/>'


def test_groups_always_close_and_shapes_never_do() -> None:
    tree = (
        node("g", 'transform="scale(.1)"'),
        node("defs", "", node("clipPath", 'id="c"', node("rect", 'width="2" height="1"'))),
        node("g", 'clip-path="url(#c)"', node("path", 'd="M0 0h1"')),
    )
    assert to_svg(tree) == (
        '<g transform="scale(.1)"></g>'
        '<defs><clipPath id="c"><rect width="2" height="1"/></clipPath></defs>'
        '<g clip-path="url(#c)"><path d="M0 0h1"/></g>'
    )


def test_attribute_values_are_escaped() -> None:
    item = Node("path", (("fill", '"><script>&'),))
    assert to_svg((item,)) == '<path fill="&quot;&gt;&lt;script&gt;&amp;"/>'
