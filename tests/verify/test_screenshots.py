"""The consumer pages in real headless Chromium, served by uvicorn in its own process.

Checks what only a browser can: the CSP lets our own CSS and images through and blocks
nothing we need, no cookies, nothing fetched from elsewhere, no sideways scrolling on a
phone. With $BADGE_SCREENSHOTS set to a folder, every page is also saved there as a
full-page screenshot for a human look (`make test` does not look at them, so it skips
them: about 10 % of this module's time).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Response,
    sync_playwright,
)

from badge.registry.model import Shop
from badge.registry.sqlite import SQLiteRegistry
from badge.vocabulary import LANGS
from tests.conftest import add_shop
from tests.servers import Service, free_port, get, service_env

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDTHS = (390, 1280)
BRAND_BLUE = "rgb(11, 79, 156)"


@dataclass
class Site:
    base: str
    shops: dict[str, Shop]
    shots: Path | None
    badge_file: Path


@dataclass
class Visit:
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing; `make test` installs it (apt)")
    tmp = tmp_path_factory.mktemp("browser")
    port = free_port()
    env = service_env(tmp, BADGE_PUBLIC_URL=f"http://127.0.0.1:{port}")
    registry = SQLiteRegistry(tmp / "badge.db")
    try:
        shops = {
            "certified": add_shop(
                registry,
                name="Bakkerij Janssens",
                domains=("bakkerij-janssens.be", "brood-janssens.be"),
                categories=("b2c_member", "sponsor"),
            ),
            "suspended": add_shop(registry, name="Fietsen Peeters", domains=("fietsen.be",)),
            "revoked": add_shop(registry, name="Gadget Planet", domains=("gadgetplanet.be",)),
            "expired": add_shop(
                registry,
                name="Librairie Dupont & Fils",
                domains=("librairie-dupont.be",),
                categories=("b2b_member", "webshop_partner", "business_partner"),
                valid_days=-12,
            ),
        }
        registry.set_state(shops["suspended"].id, "suspended", reason="test", actor="test")
        registry.set_state(shops["revoked"].id, "suspended", reason="test", actor="test")
        registry.set_state(shops["revoked"].id, "revoked", reason="test", actor="test")
    finally:
        registry.close()
    service = Service(env, port=port)
    service.start()
    try:
        # Saved from the shop's own website, where the badge says "certified".
        status, body, _ = get(
            f"{service.base}/b/{shops['certified'].id}.svg",
            {"referer": "https://www.bakkerij-janssens.be/"},
        )
        assert status == 200
        badge_file = tmp / "saved-badge.svg"
        badge_file.write_bytes(body)
        wanted = os.environ.get("BADGE_SCREENSHOTS")
        shots = Path(wanted) if wanted else None
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
        yield Site(service.base, shops, shots, badge_file)
    finally:
        service.stop()


@pytest.fixture(scope="module")
def browser(site: Site) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def windows(browser: Browser) -> Iterator[dict[int, Page]]:
    """One window per width for the whole module: a new browser context costs a quarter of
    a second, and the check that no cookie is ever set only gets stronger when shared."""
    pages = {}
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900})
        pages[width] = context.new_page()
    yield pages
    for page in pages.values():
        page.context.close()


@contextmanager
def open_page(windows: dict[int, Page], width: int) -> Iterator[tuple[Page, Visit]]:
    """The window at `width`, watched for one visit."""
    page = windows[width]
    visit = Visit()

    def on_console(message: ConsoleMessage) -> None:
        visit.console.append(message.text)

    def on_request(request: Request) -> None:
        visit.requests.append(request.url)

    def on_response(response: Response) -> None:
        # The document may be a 404 on purpose; its stylesheet, icon and images never may.
        if response.status >= 400 and response.request.resource_type != "document":
            visit.failed.append(response.url)

    page.on("console", on_console)
    page.on("request", on_request)
    page.on("response", on_response)
    try:
        yield page, visit
    finally:
        page.remove_listener("console", on_console)
        page.remove_listener("request", on_request)
        page.remove_listener("response", on_response)


def check_page(page: Page, visit: Visit, site: Site, width: int, name: str) -> None:
    """What every page must do in a real browser; then, when asked, a full-page screenshot."""
    assert not [m for m in visit.console if "Content Security Policy" in m], visit.console
    assert visit.failed == []
    assert all(url.startswith(site.base) for url in visit.requests), visit.requests
    assert page.context.cookies() == []
    scroll_width = page.evaluate("document.scrollingElement.scrollWidth")
    assert scroll_width <= width, f"{name}: {scroll_width}px wide in a {width}px window"
    # The stylesheet arrived through the CSP (the header's blue rule is ours).
    colour = page.evaluate(
        "getComputedStyle(document.querySelector('header.site')).borderBottomColor"
    )
    assert colour == BRAND_BLUE
    broken = page.evaluate(
        "[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
    )
    assert broken == []
    if site.shots is not None:
        page.screenshot(path=str(site.shots / f"{name}-{width}.png"), full_page=True)


STATES = ("certified", "suspended", "revoked", "expired")


def lang_and_width(pages: tuple[str, ...]) -> list[object]:
    """Each page in every language at the phone's width, where long words would overflow,
    and at the desktop's in one language, a different one for each page."""
    cases = []
    for n, page in enumerate(pages):
        for lang in LANGS:
            cases.append(pytest.param(page, lang, WIDTHS[0], id=f"{page}-{lang}-{WIDTHS[0]}px"))
        lang = LANGS[n % len(LANGS)]
        cases.append(pytest.param(page, lang, WIDTHS[1], id=f"{page}-{lang}-{WIDTHS[1]}px"))
    return cases


@pytest.mark.parametrize(("state", "lang", "width"), lang_and_width(STATES))
def test_shop_page(windows: dict[int, Page], site: Site, state: str, lang: str, width: int) -> None:
    with open_page(windows, width) as (page, visit):
        shop = site.shops[state]
        response = page.goto(f"{site.base}/v/{shop.id}?lang={lang}")
        assert response is not None and response.status == 200
        assert page.locator(f"section.status-{state}").count() == 1
        badge = page.locator("figure.live-badge img")
        assert badge.evaluate("i => i.naturalWidth") > 0
        check_page(page, visit, site, width, f"shop-{state}-{lang}")


@pytest.mark.parametrize("width", [pytest.param(w, id=f"{w}px") for w in WIDTHS])
@pytest.mark.parametrize(
    ("referer", "expected"),
    [
        pytest.param("https://fake-shop.example/checkout", "notice-warning", id="copied"),
        pytest.param("https://www.brood-janssens.be/", "notice-ok", id="registered"),
    ],
)
def test_referrer_notices(
    windows: dict[int, Page], site: Site, referer: str, expected: str, width: int
) -> None:
    with open_page(windows, width) as (page, visit):
        shop = site.shops["certified"]
        page.goto(f"{site.base}/v/{shop.id}?lang=en", referer=referer)
        notice = page.locator(f"section.{expected}")
        assert notice.count() == 1
        host = re.sub(r"^https://(www\.)?|/.*$", "", referer)
        assert host in notice.inner_text()
        check_page(page, visit, site, width, f"referrer-{expected}")


@pytest.mark.parametrize("width", [pytest.param(w, id=f"{w}px") for w in WIDTHS])
@pytest.mark.parametrize(
    ("query", "name"),
    [
        pytest.param("", "verify", id="empty"),
        pytest.param("?domain=https://WWW.Bakkerij-Janssens.BE/brood&lang=nl", "found", id="found"),
        pytest.param("?domain=fake-shop.example&lang=fr", "unregistered", id="unregistered"),
        pytest.param("?q=e&lang=de", "search", id="search"),
    ],
)
def test_lookup_pages(
    windows: dict[int, Page], site: Site, query: str, name: str, width: int
) -> None:
    with open_page(windows, width) as (page, visit):
        response = page.goto(f"{site.base}/verify{query}")
        assert response is not None and response.status == 200
        check_page(page, visit, site, width, f"lookup-{name}")


@pytest.mark.parametrize("width", [pytest.param(w, id=f"{w}px") for w in WIDTHS])
def test_upload_a_saved_badge(windows: dict[int, Page], site: Site, width: int) -> None:
    with open_page(windows, width) as (page, visit):
        page.goto(f"{site.base}/verify?lang=nl")
        page.set_input_files("#file", str(site.badge_file))
        page.click("form.upload button[type=submit]")
        page.wait_for_load_state()
        assert "Echte badge van een gecertificeerde webshop" in page.content()
        check_page(page, visit, site, width, "upload-genuine")


@pytest.mark.parametrize("width", [pytest.param(w, id=f"{w}px") for w in WIDTHS])
def test_unknown_shop_page(windows: dict[int, Page], site: Site, width: int) -> None:
    with open_page(windows, width) as (page, visit):
        response = page.goto(f"{site.base}/v/aaaaaaaaaaaaaaaa?lang=en")
        assert response is not None and response.status == 404
        check_page(page, visit, site, width, "unknown")


@pytest.mark.parametrize(("home", "lang", "width"), lang_and_width(("home",)))
def test_home_page(windows: dict[int, Page], site: Site, home: str, lang: str, width: int) -> None:
    with open_page(windows, width) as (page, visit):
        response = page.goto(f"{site.base}/?lang={lang}")
        assert response is not None and response.status == 200
        assert page.locator("h1").count() == 1
        # The favicon link resolves, and the lookup form on it works from here.
        icon = page.locator("link[rel=icon]").first.get_attribute("href")
        assert icon is not None and page.request.get(site.base + icon).status == 200
        page.fill("#domain", "https://www.Bakkerij-Janssens.be/brood")
        page.click("form.lookup button[type=submit]")
        page.wait_for_load_state()
        assert "/verify?" in page.url
        assert page.locator(".answer-ok").count() == 1
        page.go_back()
        check_page(page, visit, site, width, f"{home}-{lang}")
