from __future__ import annotations

import asyncio

from badge.render.png import bake, render_png, render_png_view
from badge.render.pool import RenderPool
from badge.render.svg import render_svg
from tests.render.views import TOKEN, spread

VIEWS = {case: view for case, view, _token in spread()}


def test_worker_renders_views_and_still_takes_svg() -> None:
    certified, lookup = VIEWS["certified-m-nl"], VIEWS["lookup-l-fr"]
    svg = render_svg(lookup, token=TOKEN)
    pool = RenderPool(1)
    try:
        pool.start()

        async def render() -> list[bytes]:
            return list(
                await asyncio.gather(
                    pool.png(certified, 2), pool.png(lookup, 3), pool.png(svg, 1, TOKEN)
                )
            )

        first, second, old = asyncio.run(render())
    finally:
        pool.close()
    assert first == render_png_view(certified, 2)
    assert second == render_png_view(lookup, 3)
    # The SVG-string path (until the service passes views) signs, as it always did.
    assert old == render_png(svg, scale=1, token=TOKEN)
    assert old == bake(render_png_view(lookup, 1), TOKEN)
