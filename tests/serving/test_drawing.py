"""badge.serving.drawing: variants drawn and built once, PNG pixels kept per look, and the
few badges that name no shop."""

from __future__ import annotations

import anyio
import pytest

from badge.platform.caches import CacheSet
from badge.serving.drawing import VariantRenderer
from badge.serving.variants import badge_view
from badge.settings import Settings
from badge.verify.check import extract_token
from tests.serving.test_variants import SHOP

TOKEN_1 = "aGVhZA.Ym9keQ.c2lnMQ"
TOKEN_2 = "aGVhZA.Ym9keQ.c2lnMg"


@pytest.fixture
def caches() -> CacheSet:
    return CacheSet()


@pytest.fixture
def renderer(settings: Settings, caches: CacheSet) -> VariantRenderer:
    return VariantRenderer(settings, caches)


def test_a_variant_is_signed_cacheable_and_purgeable(
    renderer: VariantRenderer, settings: Settings
) -> None:
    view = badge_view(SHOP, "certified", "bakkerij-test.be", "nl", "m")
    rendered = anyio.run(renderer.variant, view, "svg", 1, TOKEN_1, SHOP.id, "certified")
    headers = dict(rendered.headers)
    assert rendered.status == 200 and rendered.variant == "certified"
    assert rendered.body.startswith(b"<svg") and extract_token(rendered.body) == TOKEN_1
    assert (
        headers[b"cache-control"]
        == (
            f"public, max-age={settings.max_age}, "
            f"stale-while-revalidate={settings.stale_while_revalidate}"
        ).encode()
    )
    assert SHOP.id.encode() in headers[b"xkey"]


def test_pixels_are_rasterised_once_per_look_and_scale(
    renderer: VariantRenderer, caches: CacheSet
) -> None:
    view = badge_view(SHOP, "certified", "bakkerij-test.be", "en", "s")

    async def run() -> tuple[bytes, bytes, bytes]:
        one = await renderer.render(view, "png", 2, TOKEN_1)
        two = await renderer.render(view, "png", 2, TOKEN_2)
        bigger = await renderer.render(view, "png", 3, None)
        return one, two, bigger

    one, two, bigger = anyio.run(run)
    assert extract_token(one) == TOKEN_1 and extract_token(two) == TOKEN_2
    assert renderer.stats().rasters == 2 and renderer.stats().renders == 3
    (pixels,) = caches.snapshot()
    assert (pixels.name, pixels.size, pixels.hits) == ("png_pixels", 2, 1)
    assert b"iTXt" not in bigger


def test_nobody_badges_are_drawn_once_each(renderer: VariantRenderer) -> None:
    async def run() -> None:
        unknown = await renderer.nobody_badge("unknown", "svg", "fr", "m", 1)
        down = await renderer.nobody_badge("unavailable", "svg", "fr", "m", 1)
        assert (unknown.status, down.status) == (404, 503)
        assert dict(down.headers)[b"cache-control"] == b"public, max-age=30"
        assert await renderer.nobody_badge("unknown", "svg", "fr", "m", 1) is unknown

    anyio.run(run)
    assert renderer.stats().renders == 2


def test_error_badges_are_fixed_texts_never_stored(renderer: VariantRenderer) -> None:
    async def run() -> None:
        bad = await renderer.error_badge("size", "png", "de")
        assert bad.status == 400
        assert dict(bad.headers)[b"cache-control"] == b"no-store"
        assert await renderer.error_badge("size", "png", "de") is bad
        assert await renderer.error_badge("lang", "png", "de") is not bad

    anyio.run(run)
    assert renderer.stats().renders == 2
