"""A revocation reaches a real browser through the real edge within the browser's max-age.

Chromium loads a shop's page, served under the shop's registered domain (mapped to
127.0.0.1), which shows the badge from Varnish (deploy/varnish) in front of one uvicorn
instance. The shop is revoked with the CLI in another process; the instance learns it from
the registry's change feed and purges the edge. The page is reloaded until the badge it
shows (a screenshot of the <img>, looked at pixel by pixel) loses the blue thumbs-up. Between
two changes the browser revalidates with If-None-Match and the edge answers the 304 itself.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from badge.registry.sqlite import SQLiteRegistry
from tests.browser import chromium
from tests.conftest import add_shop
from tests.edge import Varnish
from tests.servers import Service, cli, free_port, get, service_env
from tests.test_borrowed_badge_browser import Site

pytestmark = [pytest.mark.browser, pytest.mark.server]

REGISTERED = "winkel-rand.be"
# Short browser lifetimes, so the test takes seconds; the same bound as the defaults' 60.
MAX_AGE = 4
STALE_WHILE_REVALIDATE = 2
# The brand's blue (badge/render/artwork.py, #0b4f9c): only the certified badge has it.
BLUE = (0x0B, 0x4F, 0x9C)


def blue_pixels(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(
        1
        for pixel in image.get_flattened_data()
        if all(abs(channel - want) <= 24 for channel, want in zip(pixel, BLUE, strict=True))
    )


def instance_badges(service: Service) -> int:
    """Badge responses the instance has sent, whatever their status."""
    _, body, _ = get(service.base + "/metrics")
    return sum(
        int(float(value))
        for value in re.findall(rb'^badge_responses_total\{status="\d+"\} (\S+)$', body, re.M)
    )


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[Service, Varnish, str, dict[str, str]]]:
    edge_port = free_port()
    env = service_env(
        tmp_path,
        BADGE_PUBLIC_URL=f"http://127.0.0.1:{edge_port}",
        BADGE_PURGE_URLS=f"http://127.0.0.1:{edge_port}/",
        BADGE_MAX_AGE=str(MAX_AGE),
        BADGE_STALE_WHILE_REVALIDATE=str(STALE_WHILE_REVALIDATE),
        BADGE_RENDER_PROCESSES="0",
    )
    registry = SQLiteRegistry(tmp_path / "badge.db")
    shop = add_shop(registry, name="Winkel Rand", domains=(REGISTERED,))
    registry.close()
    service = Service(env)
    service.start()
    varnish = Varnish([service.port], port=edge_port)
    try:
        varnish.start()
        yield service, varnish, shop.id, env
    finally:
        varnish.stop()
        service.stop()


def test_a_revocation_reaches_the_browser_within_its_max_age(
    deployment: tuple[Service, Varnish, str, dict[str, str]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    service, varnish, shop_id, env = deployment
    site = Site("127.0.0.1")
    site.pages["/"] = (
        '<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Winkel</title>'
        '</head><body><h1>Winkel Rand</h1><a href="#"><img id="badge" width="210" height="60"'
        f' src="{varnish.base}/b/{shop_id}.svg?lang=nl&amp;size=m" referrerpolicy="origin"'
        ' alt="Keurmerk"></a></body></html>'
    ).encode()
    page_url = f"http://{REGISTERED}:{site.port}/"
    badge_requests: list[Any] = []
    try:
        with chromium(REGISTERED) as browser:
            context = browser.new_context(viewport={"width": 400, "height": 200})
            page = context.new_page()
            page.on(
                "request",
                lambda r: badge_requests.append(r) if "/b/" in r.url else None,
            )

            def shown() -> bytes:
                page.wait_for_function(
                    "() => { const i = document.getElementById('badge');"
                    " return i && i.complete && i.naturalWidth > 0; }",
                    timeout=10_000,
                )
                png: bytes = page.locator("#badge").screenshot()
                return png

            reached = instance_badges(service)
            page.goto(page_url)
            first = shown()
            (tmp_path / "certified.png").write_bytes(first)
            assert blue_pixels(first) > 500, "the shop's own page shows the thumbs-up"
            # Chromium accepts Brotli, and gets the Brotli bytes the service prepared.
            loaded = badge_requests[0].response()
            assert loaded is not None and loaded.all_headers()["content-encoding"] == "br"
            first_load = instance_badges(service) - reached

            # Past the browser's max-age and stale-while-revalidate: the browser asks again,
            # with If-None-Match, and the edge answers without asking the instance.
            time.sleep(MAX_AGE + STALE_WHILE_REVALIDATE + 0.5)
            before = varnish.counters("MAIN.client_req", "MAIN.backend_req")
            reached = instance_badges(service)
            page.reload()
            assert blue_pixels(shown()) > 500
            after = varnish.counters("MAIN.client_req", "MAIN.backend_req")
            # What the network stack sent, conditional headers included, and what came back.
            revalidation = badge_requests[-1]
            assert "if-none-match" in revalidation.all_headers()
            response = revalidation.response()
            assert response is not None and response.status == 304
            assert after["MAIN.client_req"] > before["MAIN.client_req"]
            assert after["MAIN.backend_req"] == before["MAIN.backend_req"]
            assert instance_badges(service) == reached
            # Within max-age of that 304 the browser asks nobody: the Date and Age the edge
            # sends are those of a response made now, not of when the edge stored it.
            page.reload()
            assert blue_pixels(shown()) > 500
            assert varnish.counters("MAIN.client_req") == {
                "MAIN.client_req": after["MAIN.client_req"]
            }

            # Revoked in another process; the instance learns it and purges the edge.
            reached = instance_badges(service)
            edge_before = varnish.counters("MAIN.client_req")["MAIN.client_req"]
            result = cli(env, "shops", "set-state", shop_id, "revoked", "--reason", "edge test")
            assert result.returncode == 0, result.stderr
            revoked_at = time.monotonic()
            reloads = 0
            while True:
                page.reload()
                reloads += 1
                now_shown = shown()
                elapsed = time.monotonic() - revoked_at
                if blue_pixels(now_shown) == 0:
                    break
                assert elapsed < MAX_AGE + STALE_WHILE_REVALIDATE + 2, (
                    "the browser still shows the thumbs-up"
                )
                time.sleep(0.25)
            (tmp_path / "revoked.png").write_bytes(now_shown)
            to_instance = instance_badges(service) - reached
            to_edge = varnish.counters("MAIN.client_req")["MAIN.client_req"] - edge_before
            context.close()
    finally:
        site.close()
    with capsys.disabled():
        print(
            f"\n[edge browser] max-age {MAX_AGE} s + stale-while-revalidate "
            f"{STALE_WHILE_REVALIDATE} s: the revoked badge shown {elapsed:.1f} s after the "
            f"change, at reload {reloads}; badge requests at the edge {to_edge}, at the "
            f"instance {to_instance} (first load: {first_load}); screenshots in {tmp_path}"
        )
    assert elapsed <= MAX_AGE + STALE_WHILE_REVALIDATE + 2
    # After the purge, the edge fetched the new badge once; every other request it answered.
    assert to_instance == 1
    assert to_edge >= 1
