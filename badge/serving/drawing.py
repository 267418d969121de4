"""Drawing variants: SVG text in a thread, PNG pixels in the render worker, and the HTTP
response (headers, gzip and Brotli forms) built once per variant.

PNG pixels depend on the look alone, so they are cached per (view, scale): a re-signed
variant, or another site's variant with the same look, only splices its signature into
the cached pixels (png.bake) and rasterises nothing.
"""

from __future__ import annotations

from typing import Final

import anyio

from badge.platform.caches import BoundedCache, CacheSet
from badge.render import png as png_render
from badge.render import svg as svg_render
from badge.render.pool import RenderPool
from badge.render.svg import BadgeView
from badge.serving.responses import Rendered, build_response
from badge.vocabulary import Format

PIXEL_CACHE_SIZE: Final = 2048
CONCURRENT_RENDERS: Final = 4

Surrogate = tuple[tuple[bytes, bytes], ...]


class VariantRenderer:
    def __init__(self, caches: CacheSet, pool: RenderPool | None = None) -> None:
        # PNGs go to a worker process when one is given (the served app); threads otherwise.
        self.pool = pool
        self.limiter = anyio.CapacityLimiter(CONCURRENT_RENDERS)
        # Rasterised PNGs without a signature, per look and scale.
        self._pixels: BoundedCache[tuple[BadgeView, int], bytes] = caches.new(
            "png_pixels", PIXEL_CACHE_SIZE
        )
        self.render_count = 0
        self.raster_count = 0

    async def render(self, view: BadgeView, fmt: Format, scale: int, token: str | None) -> bytes:
        self.render_count += 1
        if fmt == "png":
            pixels = self._pixels.get((view, scale))
            if pixels is None:
                pixels = await self._rasterise(view, scale)
            return pixels if token is None else png_render.bake(pixels, token)
        async with self.limiter:
            svg = await anyio.to_thread.run_sync(lambda: svg_render.render_svg(view, token=token))
        return svg.encode("utf-8")

    async def _rasterise(self, view: BadgeView, scale: int) -> bytes:
        # Painted from the view with cairo (render/raster.py): no SVG is written or parsed.
        async with self.limiter:
            if self.pool is not None:
                pixels = await self.pool.png(view, scale)
            else:
                pixels = await anyio.to_thread.run_sync(png_render.render_png_view, view, scale)
        self.raster_count += 1
        self._pixels.put((view, scale), pixels)
        return pixels

    async def build(
        self, status: int, body: bytes, fmt: Format, cache: bytes, surrogate: Surrogate
    ) -> Rendered:
        """Compressing a variant (Brotli at its best) is CPU work: off the event loop, once."""
        async with self.limiter:
            return await anyio.to_thread.run_sync(
                build_response, status, body, fmt, cache, surrogate
            )
