from __future__ import annotations

import asyncio

from badge.render.png import render_png_view
from badge.render.pool import RenderPool
from tests.render.views import spread

VIEWS = {case: view for case, view, _token in spread()}


def test_the_worker_paints_views() -> None:
    certified, lookup = VIEWS["certified-m-nl"], VIEWS["lookup-l-fr"]
    pool = RenderPool(1)
    try:
        pool.start()

        async def render() -> list[bytes]:
            return list(await asyncio.gather(pool.png(certified, 2), pool.png(lookup, 3)))

        first, second = asyncio.run(render())
    finally:
        pool.close()
    assert first == render_png_view(certified, 2)
    assert second == render_png_view(lookup, 3)
