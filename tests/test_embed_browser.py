"""The script embed in a real browser: headless Chromium, the real server, a strict-CSP host page.

The host page is served from another origin under shop host names that Chromium maps to
127.0.0.1, so `?d=` carries a real domain: one registered to the shop, one not.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from badge.registry.sqlite import SQLiteRegistry
from badge.vocabulary import SIZES
from tests.browser import chromium
from tests.conftest import add_shop
from tests.servers import Service, free_port, service_env

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/shots")
REGISTERED = "bakkerij-test.be"
COPYCAT = "copycat.example"
CONTROL_INLINE = "<script>document.title = 'inline ran';</script>"


def host_page(badge_base: str, shop_id: str, control: bool) -> bytes:
    inline = CONTROL_INLINE if control else ""
    return f"""<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><title>Bakkerij Test</title></head>
<body>
<h1>Bakkerij Test</h1>
<p>Vers brood, elke dag. Betalen kan veilig online.</p>
<footer>
<p id="before">Wij zijn lid van BeCommerce:</p>
<script src="{badge_base}/embed.js" data-shop="{shop_id}" data-lang="nl" data-size="m"
 async></script>
<p id="after">© Bakkerij Test</p>
</footer>
{inline}
</body></html>""".encode()


class HostSite:
    """A webshop's page on its own origin, sending a strict CSP that only allows the badge."""

    def __init__(self, badge_base: str, shop_id: str) -> None:
        self.port = free_port()
        site = self
        csp = (
            f"default-src 'none'; script-src {badge_base}; img-src {badge_base}; "
            "style-src 'none'; base-uri 'none'"
        )

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = host_page(badge_base, shop_id, control=self.path == "/control")
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-security-policy", csp)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", site.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HostSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[Service, str]]:
    port = free_port()
    env = service_env(tmp_path, BADGE_PUBLIC_URL=f"http://127.0.0.1:{port}")
    registry = SQLiteRegistry(tmp_path / "badge.db")
    shop = add_shop(registry, domains=(REGISTERED,), categories=("b2c_member", "sponsor"))
    registry.close()
    server = Service(env, port=port)
    server.start()
    try:
        yield server, shop.id
    finally:
        server.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium(REGISTERED, COPYCAT) as launched:
        yield launched


def open_host_page(context: Any, url: str) -> tuple[Any, list[str]]:
    messages: list[str] = []
    page = context.new_page()
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
    page.goto(url)
    page.wait_for_selector("#before + script + a > img", state="attached", timeout=10_000)
    page.wait_for_function(
        "() => { const i = document.querySelector('a > img'); "
        "return i && i.complete && i.naturalWidth > 0; }",
        timeout=10_000,
    )
    return page, messages


def test_script_embed_under_strict_csp(
    service: tuple[Service, str], browser: Any, tmp_path: Path
) -> None:
    server, shop_id = service
    SHOTS.mkdir(parents=True, exist_ok=True)
    width, height = SIZES["m"]
    with HostSite(server.base, shop_id) as site:
        context = browser.new_context(viewport={"width": 800, "height": 600})
        for host, shot in ((REGISTERED, "embed-host.png"), (COPYCAT, "embed-host-copycat.png")):
            page, messages = open_host_page(context, f"http://{host}:{site.port}/")
            img = page.locator("a > img")
            assert img.get_attribute("width") == str(width)
            assert img.get_attribute("height") == str(height)
            box = img.bounding_box()
            assert box is not None
            assert (round(box["width"]), round(box["height"])) == (width, height)
            assert page.evaluate("document.querySelector('a > img').naturalWidth") > 0
            src = urlsplit(img.get_attribute("src") or "")
            assert f"{src.scheme}://{src.netloc}" == server.base
            assert src.path == f"/b/{shop_id}.svg"
            assert parse_qs(src.query) == {"lang": ["nl"], "size": ["m"], "d": [host]}
            href = page.locator("#before + script + a").get_attribute("href")
            assert href == f"{server.base}/v/{shop_id}?lang=nl"
            assert img.get_attribute("alt")
            # Inserted right after its own script tag, before the text that follows it.
            assert (
                page.evaluate("document.querySelector('#after').previousElementSibling.tagName")
                == "A"
            )
            assert not [m for m in messages if "Content Security Policy" in m], messages
            assert not [m for m in messages if m.startswith(("error", "pageerror"))], messages
            page.screenshot(path=str(SHOTS / shot))
            page.close()
        assert context.cookies() == []

        # Control: the same listener does see a violation when the page breaks the policy.
        page, messages = open_host_page(context, f"http://{REGISTERED}:{site.port}/control")
        assert page.title() == "Bakkerij Test"
        assert [m for m in messages if "Content Security Policy" in m]
        page.close()

        page = context.new_page()
        for viewport, shot in ((1280, "embed-page-1280.png"), (390, "embed-page-390.png")):
            page.set_viewport_size({"width": viewport, "height": 900})
            page.goto(f"{server.base}/embed/{shop_id}?lang=nl&size=m")
            page.wait_for_function(
                "() => [...document.images].every(i => i.complete && i.naturalWidth > 0)"
            )
            page.screenshot(path=str(SHOTS / shot), full_page=True)
        assert context.cookies() == []
        context.close()
