"""Drawing badges: SVG text in a thread, PNG pixels in the render worker, and the HTTP
response (headers, gzip and Brotli forms) built once per variant.

PNG pixels depend on the look alone, so they are cached per (view, scale): a re-signed
variant, or another site's variant with the same look, only splices its signature into
the cached pixels (png.bake) and rasterises nothing. The few badges that name no shop
(unknown, unavailable, a bad parameter) are drawn once each and kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal

import anyio

from badge.platform.caches import BoundedCache, CacheSet
from badge.platform.purge import surrogate_headers
from badge.render import png as png_render
from badge.render import svg as svg_render
from badge.render.pool import RenderPool
from badge.render.svg import BadgeView
from badge.serving.responses import Rendered, build_response
from badge.serving.variants import ErrorKind, error_view, unknown_view
from badge.settings import Settings
from badge.vocabulary import Format, Lang, Size

PIXEL_CACHE_SIZE: Final = 2048
CONCURRENT_RENDERS: Final = 4
SHORT_CACHE: Final = b"public, max-age=30"

Surrogate = tuple[tuple[bytes, bytes], ...]
Nobody = Literal["unknown", "unavailable"]


@dataclass(frozen=True, slots=True)
class DrawingStats:
    # Badges drawn (variant cache misses), and PNGs rasterised (pixel cache misses).
    renders: int
    rasters: int


class VariantRenderer:
    def __init__(
        self, settings: Settings, caches: CacheSet, pool: RenderPool | None = None
    ) -> None:
        # PNGs go to a worker process when one is given (the served app); threads otherwise.
        self.pool = pool
        self.limiter = anyio.CapacityLimiter(CONCURRENT_RENDERS)
        self.cache_control = (
            f"public, max-age={settings.max_age}, "
            f"stale-while-revalidate={settings.stale_while_revalidate}"
        ).encode()
        # The edge's own lifetime for a badge; browsers never see it (the VCL strips it).
        self.edge_headers: Surrogate = (
            ((b"surrogate-control", f"max-age={settings.edge_max_age}".encode()),)
            if settings.edge_max_age
            else ()
        )
        # Rasterised PNGs without a signature, per look and scale.
        self._pixels: BoundedCache[tuple[BadgeView, int], bytes] = caches.new(
            "png_pixels", PIXEL_CACHE_SIZE
        )
        # Bounded by their keys: 2 kinds x 2 formats x 4 languages x 3 sizes x 3 scales.
        self._nobody: dict[tuple[Nobody, Format, Lang, Size, int], Rendered] = {}
        # At most len(ERROR_TEXTS) x 2 formats x 4 languages entries, ever.
        self._errors: dict[tuple[ErrorKind, Format, Lang], Rendered] = {}
        self._renders = 0
        self._rasters = 0

    def stats(self) -> DrawingStats:
        return DrawingStats(self._renders, self._rasters)

    async def variant(
        self, view: BadgeView, fmt: Format, scale: int, token: str, shop_id: str, label: str
    ) -> Rendered:
        """A shop's badge, signed with `token`, as the response sent for it from now on;
        `label` names the variant in the latency metrics (binding.variant_claims)."""
        body = await self.render(view, fmt, scale, token)
        surrogate = surrogate_headers(shop_id) + self.edge_headers
        rendered = await self._build(200, body, fmt, self.cache_control, surrogate)
        return replace(rendered, variant=label)

    async def nobody_badge(
        self, kind: Nobody, fmt: Format, lang: Lang, size: Size, scale: int
    ) -> Rendered:
        """No such shop (404), or the registry is out of reach (503): a neutral badge."""
        key = (kind, fmt, lang, size, scale)
        rendered = self._nobody.get(key)
        if rendered is None:
            body = await self.render(unknown_view(lang, size), fmt, scale, None)
            status = 404 if kind == "unknown" else 503
            rendered = await self._build(status, body, fmt, SHORT_CACHE, surrogate_headers(None))
            rendered = replace(rendered, variant=kind)
            self._nobody[key] = rendered
        return rendered

    async def error_badge(self, kind: ErrorKind, fmt: Format, lang: Lang) -> Rendered:
        """One of the few prepared error badges: a fixed text per kind, never the bad value,
        so no request can make us render (or keep) anything new."""
        key = (kind, fmt, lang)
        rendered = self._errors.get(key)
        if rendered is None:
            body = await self.render(error_view(kind, lang), fmt, 1, None)
            rendered = await self._build(400, body, fmt, b"no-store", ())
            self._errors[key] = rendered
        return rendered

    async def render(self, view: BadgeView, fmt: Format, scale: int, token: str | None) -> bytes:
        self._renders += 1
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
        self._rasters += 1
        self._pixels.put((view, scale), pixels)
        return pixels

    async def _build(
        self, status: int, body: bytes, fmt: Format, cache: bytes, surrogate: Surrogate
    ) -> Rendered:
        """Compressing a variant (Brotli at its best) is CPU work: off the event loop, once."""
        async with self.limiter:
            return await anyio.to_thread.run_sync(
                build_response, status, body, fmt, cache, surrogate
            )
