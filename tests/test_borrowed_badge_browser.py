"""A borrowed badge never says "certified": the official snippets, copied, in real Chromium.

The badge service runs on 127.0.0.1. The shop's own pages are served under its registered
domain (Chromium maps it to 127.0.0.1); a copycat serves a verbatim copy of the snippets
from 127.0.0.2. What each badge said is read from the very bytes the browser received.
"""

from __future__ import annotations

import html
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from defusedxml.ElementTree import fromstring

from badge.registry.sqlite import SQLiteRegistry
from badge.render.artwork import THUMBS_UP
from badge.verify.check import extract_token
from tests.browser import chromium
from tests.conftest import add_shop
from tests.servers import Service, cli, free_port, get, service_env

pytestmark = pytest.mark.browser

REGISTERED = "bakkerij-test.be"
FOREIGN_IP = "127.0.0.2"
SVG_TITLE = "{http://www.w3.org/2000/svg}title"


def page_with(snippet: str, *, no_referrer: bool = False) -> bytes:
    meta = '<meta name="referrer" content="no-referrer">' if no_referrer else ""
    return f"""<!doctype html>
<html lang="nl"><head><meta charset="utf-8">{meta}<title>Webshop</title></head>
<body><h1>Webshop</h1><p id="before">Wij zijn lid van BeCommerce:</p>
{snippet}
<p id="after">Vers brood, elke dag. Betalen kan veilig online.</p>
</body></html>""".encode()


class Site:
    """A web server on `address` that serves whatever page was put at a path."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.port = free_port()
        self.pages: dict[str, bytes] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((address, self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[Service, str]]:
    port = free_port()
    env = service_env(tmp_path, BADGE_PUBLIC_URL=f"http://127.0.0.1:{port}")
    registry = SQLiteRegistry(tmp_path / "badge.db")
    shop = add_shop(
        registry, name="Bakkerij Test", domains=(REGISTERED,), categories=("b2c_member",)
    )
    registry.close()
    server = Service(env, port=port)
    server.start()
    try:
        yield server, shop.id
    finally:
        server.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium(REGISTERED) as launched:
        yield launched


def official_snippets(server: Service, shop_id: str) -> dict[str, str]:
    """The two embed codes exactly as the embed page shows them to a shop owner."""
    status, body, _ = get(f"{server.base}/embed/{shop_id}?lang=nl&size=m")
    assert status == 200
    page = body.decode()
    image, script = re.findall(r"<pre[^>]*><code>(.*?)</code></pre>", page, re.S)
    return {"image": html.unescape(image), "script": html.unescape(script)}


def shown_badge(context: Any, url: str) -> dict[str, Any]:
    """Open `url`, wait for its badge, and read what the browser received for it."""
    received: list[Any] = []
    page = context.new_page()
    page.on("response", lambda r: received.append(r) if "/b/" in r.url else None)
    page.goto(url)
    page.wait_for_function(
        "() => { const i = document.querySelector('a > img'); "
        "return i && i.complete && i.naturalWidth > 0; }",
        timeout=10_000,
    )
    (response,) = received
    body = response.body()
    title = fromstring(body).find(SVG_TITLE)
    claims = jwt.decode(extract_token(body), options={"verify_signature": False})
    shift = page.evaluate(
        """() => new Promise(done => {
            let total = 0;
            new PerformanceObserver(list => {
                for (const e of list.getEntries()) if (!e.hadRecentInput) total += e.value;
            }).observe({type: "layout-shift", buffered: true});
            setTimeout(() => done(total), 300);
        })"""
    )
    result = {
        "page": page,
        "title": title.text if title is not None else "",
        "thumbs_up": THUMBS_UP in body.decode(),
        "variant": claims.get("variant"),
        "site": claims.get("site"),
        "referer": response.request.all_headers().get("referer"),
        "layout_shift": shift,
    }
    return result


def test_copies_of_the_official_snippets_never_say_certified(
    service: tuple[Service, str], browser: Any
) -> None:
    server, shop_id = service
    snippets = official_snippets(server, shop_id)
    stripped = {
        "image": snippets["image"].replace(' referrerpolicy="origin"', ""),
        "script": snippets["script"],
    }
    assert stripped["image"] != snippets["image"]
    own, copycat = Site("127.0.0.1"), Site(FOREIGN_IP)
    context = browser.new_context(viewport={"width": 800, "height": 600})
    try:
        scenarios = []
        for kind in ("image", "script"):
            own.pages[f"/{kind}"] = page_with(snippets[kind])
            own.pages[f"/{kind}-hidden"] = page_with(snippets[kind], no_referrer=True)
            copycat.pages[f"/{kind}"] = page_with(snippets[kind])
            copycat.pages[f"/{kind}-stripped"] = page_with(stripped[kind], no_referrer=True)
            scenarios += [
                (f"{kind}, shop's own site", f"http://{REGISTERED}:{own.port}/{kind}", True),
                (
                    f"{kind}, own site with no-referrer pages",
                    f"http://{REGISTERED}:{own.port}/{kind}-hidden",
                    True,
                ),
                (
                    f"{kind}, copy on {FOREIGN_IP}",
                    f"http://{FOREIGN_IP}:{copycat.port}/{kind}",
                    False,
                ),
                (
                    f"{kind}, copy with no-referrer, attribute stripped",
                    f"http://{FOREIGN_IP}:{copycat.port}/{kind}-stripped",
                    False,
                ),
            ]
        print()
        for name, url, certified in scenarios:
            seen = shown_badge(context, url)
            print(
                f"{name}: <title> {seen['title']!r} (variant {seen['variant']}, "
                f"Referer {seen['referer']!r}, layout shift {seen['layout_shift']:.3f})"
            )
            assert seen["thumbs_up"] is certified, name
            assert (seen["variant"] == "certified") is certified, name
            if certified:
                assert seen["site"] == REGISTERED
                assert ", gecertificeerd." in seen["title"]  # the snippets are in Dutch
            else:
                assert "gecertificeerd" not in seen["title"]
            # Both official snippets reserve the badge's box: nothing moves when it loads.
            assert seen["layout_shift"] == 0, name
            seen["page"].close()
        assert context.cookies() == []
    finally:
        context.close()
        own.close()
        copycat.close()


def test_the_verification_page_opened_from_a_copy_leads_with_the_warning(
    service: tuple[Service, str], browser: Any
) -> None:
    server, shop_id = service
    snippets = official_snippets(server, shop_id)
    copycat = Site(FOREIGN_IP)
    copycat.pages["/"] = page_with(snippets["image"])
    copycat.pages["/hidden"] = page_with(
        snippets["image"].replace(' referrerpolicy="origin"', ""), no_referrer=True
    )
    context = browser.new_context(viewport={"width": 390, "height": 800})
    try:
        page = shown_badge(context, f"http://{FOREIGN_IP}:{copycat.port}/")["page"]
        page.click("a > img")
        page.wait_for_url(f"{server.base}/v/{shop_id}*")
        first = page.locator("main h1 + p + section")
        assert "notice-warning" in (first.get_attribute("class") or "")
        assert FOREIGN_IP in first.inner_text()
        # No big "certified" panel, and the preview is the copy's badge, not a thumbs-up.
        assert page.locator("section.status-certified").count() == 0
        assert "d=127.0.0.2" in (page.locator(".live-badge img").get_attribute("src") or "")
        print(f"\n/v from the copy leads with: {first.locator('h2').inner_text()!r}")

        hidden = shown_badge(context, f"http://{FOREIGN_IP}:{copycat.port}/hidden")["page"]
        hidden.click("a > img")
        hidden.wait_for_url(f"{server.base}/v/{shop_id}*")
        question = hidden.locator("main h1 + p + section")
        assert "notice-question" in (question.get_attribute("class") or "")
        assert REGISTERED in question.inner_text()
        print(f"/v from a copy that hides its site asks: {question.locator('h2').inner_text()!r}")
        assert context.cookies() == []
    finally:
        context.close()
        copycat.close()


def test_a_report_goes_from_the_form_to_the_operators_and_is_closed_by_the_cli(
    service: tuple[Service, str], browser: Any
) -> None:
    server, shop_id = service
    copycat = Site(FOREIGN_IP)
    copycat.pages["/"] = page_with(official_snippets(server, shop_id)["image"])
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = shown_badge(context, f"http://{FOREIGN_IP}:{copycat.port}/")["page"]
        page.click("a > img")
        page.wait_for_url(f"{server.base}/v/{shop_id}*")
        page.fill(".notice-warning textarea", "Zelfde logo, andere prijzen")
        page.click(".notice-warning form button")
        page.wait_for_selector("#reported-title")
        thanks = page.locator("main").inner_text()
        (reference,) = re.findall(r"\br[a-z2-9]{16}\b", thanks)
        assert context.cookies() == []
    finally:
        context.close()
        copycat.close()

    made = cli(server.env, "tokens", "create", "ops-test")
    assert made.returncode == 0, made.stderr
    bearer = {"authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
    status, body, _ = get(f"{server.base}/admin/api/v1/reports?status=open", bearer)
    assert status == 200
    (listed,) = json.loads(body)["reports"]
    assert listed["id"] == reference
    assert (listed["shop_id"], listed["host"], listed["referrer"]) == (
        shop_id,
        FOREIGN_IP,
        FOREIGN_IP,
    )
    assert listed["note"] == "Zelfde logo, andere prijzen" and listed["lang"] == "nl"

    closed = cli(
        server.env, "reports", "close", reference, "--resolution", "host asked to remove it"
    )
    assert closed.returncode == 0, closed.stderr
    status, body, _ = get(f"{server.base}/admin/api/v1/reports/{reference}", bearer)
    assert status == 200
    report = json.loads(body)
    assert (report["status"], report["resolution"]) == ("closed", "host asked to remove it")
    assert report["closed_by"].startswith("cli:")
    listed_open = cli(server.env, "reports", "list", "--json")
    assert json.loads(listed_open.stdout) == []
    print(f"\nreport {reference}: form -> admin API -> closed by `badge reports close`")
