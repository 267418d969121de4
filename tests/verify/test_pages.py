"""The consumer pages /v/{id} and /verify, in process, against the real app and SQLite."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from html import unescape
from html.parser import HTMLParser

import idna
import pytest
from starlette.testclient import TestClient

from badge.i18n import format_day, gettext_for
from badge.platform.timeutil import today
from badge.registry.model import Event, Shop
from badge.registry.proofs import DEMO_ATTESTATION
from badge.registry.sqlite import SQLiteRegistry
from badge.verify.pages import CSP, history_rows
from badge.vocabulary import CATEGORY_COLOURS, LANGS, Lang
from badge.web.assets import STATIC_DIR
from tests.conftest import add_shop

STATE_TITLES = {
    "certified": "Certified webshop",
    "suspended": "Keurmerk suspended",
    "revoked": "Keurmerk revoked",
    "expired": "Keurmerk expired",
}
DEMO_WORDING = (
    "Demo data: a fictitious shop whose websites were not checked, marked as confirmed on "
    "%(date)s so that the demo shows certified badges"
)
VOUCHED = (
    "Confirmed by BeCommerce: BeCommerce vouches for the ownership, established another way "
    "than a technical proof; its note says how."
)
MISMATCH = "is NOT a registered domain of this shop"
CONFIRMED = "is a registered domain of this shop"
VOID = {"meta", "link", "img", "input", "br", "hr", "source", "wbr", "area", "col", "base"}
SVG_LEAVES = {"circle", "path"}


class Structure(HTMLParser):
    """Enough of an HTML5 checker for our own pages: nesting, ids, headings, labels, images."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.ids: list[str] = []
        self.label_for: list[str] = []
        self.headings: list[int] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.doctype = ""

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if attributes.get("id"):
            self.ids.append(attributes["id"])
        if tag == "label" and attributes.get("for"):
            self.label_for.append(str(attributes["for"]))
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID and tag not in SVG_LEAVES:
            self.errors.append(f"self-closed <{tag}/>")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            self.errors.append(f"end tag for void <{tag}>")
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]!r}")
            return
        self.stack.pop()


def check_structure(html: str) -> Structure:
    page = Structure()
    page.feed(html)
    page.close()
    assert page.doctype.lower() == "doctype html"
    assert not page.errors, page.errors
    assert not page.stack, f"unclosed: {page.stack}"
    assert len(page.ids) == len(set(page.ids)), "duplicate ids"
    assert set(page.label_for) <= set(page.ids), "a label points at nothing"
    assert page.headings and page.headings[0] == 1 and page.headings.count(1) == 1
    for before, after in zip(page.headings, page.headings[1:], strict=False):
        assert after <= before + 1, f"heading jumps from h{before} to h{after}"
    names = [tag for tag, _ in page.tags]
    for landmark in ("header", "main", "footer", "nav"):
        assert landmark in names, f"no <{landmark}>"
    for tag, attrs in page.tags:
        assert "style" not in attrs, f"inline style on <{tag}>: the CSP would block it"
        assert not (tag == "img" and not attrs.get("alt")), "an image without alt text"
        assert tag != "script", "pages need no JavaScript"
        assert tag not in ("iframe", "object", "embed")
    return page


def assert_page_headers(headers: object) -> None:
    assert getattr(headers, "get")("content-security-policy") == CSP  # noqa: B009
    assert headers["x-content-type-options"] == "nosniff"  # type: ignore[index]
    # Our own origin for our own requests (badge preview, report form), nothing elsewhere.
    assert headers["referrer-policy"] == "same-origin"  # type: ignore[index]
    assert "set-cookie" not in headers  # type: ignore[operator]


def set_state(registry: SQLiteRegistry, shop: Shop, *states: str) -> None:
    for state in states:
        registry.set_state(shop.id, state, reason="test", actor="test")  # type: ignore[arg-type]


def wait_until(check: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the change feed did not deliver in time"
        time.sleep(0.05)


@pytest.fixture
def shops(registry: SQLiteRegistry) -> dict[str, Shop]:
    made = {
        "certified": add_shop(
            registry,
            name="Bakkerij Janssens",
            domains=("bakkerij-janssens.be", "brood-janssens.be"),
            categories=("b2c_member", "sponsor"),
        ),
        "suspended": add_shop(registry, name="Fietsen Peeters", domains=("fietsen.be",)),
        "revoked": add_shop(registry, name="Gadget Planet", domains=("gadgetplanet.be",)),
        "expired": add_shop(
            registry, name="Librairie Dupont", domains=("dupont.be",), valid_days=-3
        ),
    }
    set_state(registry, made["suspended"], "suspended")
    set_state(registry, made["revoked"], "suspended", "revoked")
    return made


@pytest.mark.parametrize("lang", [pytest.param(lang, id=lang) for lang in LANGS])
@pytest.mark.parametrize("state", [pytest.param(state, id=state) for state in STATE_TITLES])
def test_each_state_in_each_language(
    client: TestClient, shops: dict[str, Shop], state: str, lang: Lang
) -> None:
    shop = shops[state]
    response = client.get(f"/v/{shop.id}?lang={lang}")
    assert response.status_code == 200
    assert_page_headers(response.headers)
    assert response.headers["content-language"] == lang
    html = response.text
    assert f'<html lang="{lang}">' in html
    check_structure(html)
    assert f'<section class="status status-{state}"' in html
    assert gettext_for(lang, STATE_TITLES[state]) in html
    assert shop.display_name in html
    assert shop.legal_name in html
    assert shop.enterprise_number in html
    for domain in shop.domains:
        assert domain in html
    # A revoked Keurmerk shows no end date: it has no validity left.
    assert (format_day(lang, shop.valid_until) in html) is (state != "revoked")
    assert format_day(lang, shop.last_audit) in html
    # The live badge, in the same language.
    assert f'src="/b/{shop.id}.svg?lang={lang}&amp;size=l"' in html
    assert gettext_for(lang, "No guarantee fund") in html
    assert gettext_for(lang, "A problem with this shop?") in html
    assert gettext_for(lang, "What the Keurmerk means") in html
    # Thumbs-up wording only for a certified shop.
    advice = gettext_for(lang, "Do not rely on a Keurmerk badge on this shop's website.")
    assert (advice in unescape(html)) is (state != "certified")


def test_categories_use_the_badge_colours(client: TestClient, shops: dict[str, Shop]) -> None:
    html = client.get(f"/v/{shops['certified'].id}?lang=en").text
    assert f'fill="{CATEGORY_COLOURS["b2c_member"]}"' in html
    assert f'fill="{CATEGORY_COLOURS["sponsor"]}"' in html
    assert "B2C member" in html and "Sponsor" in html
    assert CATEGORY_COLOURS["b2b_member"] not in html


def test_history_lists_the_state_changes(client: TestClient, shops: dict[str, Shop]) -> None:
    html = client.get(f"/v/{shops['revoked'].id}?lang=en").text
    table = html[html.index('<table class="history">') : html.index("</table>")]
    # Newest first: revoked, then suspended, then granted at registration.
    order = [table.index(w) for w in ("Keurmerk revoked", "Keurmerk suspended", "Keurmerk granted")]
    assert order == sorted(order)
    # Operators' reasons and names stay internal.
    assert "test" not in table


def test_expired_page_dates_the_expiry(client: TestClient, shops: dict[str, Shop]) -> None:
    shop = shops["expired"]
    assert shop.valid_until is not None
    html = client.get(f"/v/{shop.id}?lang=nl").text
    day_after = shop.valid_until.toordinal() + 1
    assert f"Verlopen sinds {format_day('nl', date.fromordinal(day_after))}" in html


@pytest.mark.parametrize(
    ("referer", "expected"),
    [
        pytest.param("https://fake-shop.example/checkout?x=1", "mismatch", id="copied-badge"),
        pytest.param("https://bakkerij-janssens.be/", "ok", id="registered"),
        pytest.param("https://www.Brood-Janssens.BE/cart", "ok", id="www-and-case"),
        pytest.param("http://shop.bakkerij-janssens.be.evil.example/", "mismatch", id="suffix"),
        pytest.param(None, None, id="no-referrer"),
        pytest.param("http://testserver/verify", None, id="our-own-site"),
        pytest.param("not a url at all", None, id="garbage"),
    ],
)
def test_referring_site(
    client: TestClient, shops: dict[str, Shop], referer: str | None, expected: str | None
) -> None:
    headers = {"referer": referer} if referer else {}
    response = client.get(f"/v/{shops['certified'].id}?lang=en", headers=headers)
    html = response.text
    assert response.headers["vary"] == "Accept-Language, Referer, Accept-Encoding"
    assert (MISMATCH in html) is (expected == "mismatch")
    assert (CONFIRMED in html) is (expected == "ok")
    assert ("You came from" in html) is (expected is not None)


def test_mismatch_names_the_referring_host(client: TestClient, shops: dict[str, Shop]) -> None:
    html = client.get(
        f"/v/{shops['certified'].id}?lang=en",
        headers={"referer": "https://fake-shop.example/"},
    ).text
    assert "You came from <bdi>fake-shop.example</bdi>" in html
    assert "<strong><bdi>fake-shop.example</bdi></strong> " + MISMATCH in html
    assert "may have been copied" in html


def test_lookalike_referrer_is_shown_in_punycode(
    client: TestClient, shops: dict[str, Shop]
) -> None:
    # Cyrillic "а" in place of the Latin one: the warning must not read like the real name.
    lookalike = idna.encode("bаkkerij-janssens.be", uts46=True).decode()
    html = client.get(
        f"/v/{shops['certified'].id}?lang=en", headers={"referer": f"https://{lookalike}/"}
    ).text
    assert f"<strong><bdi>{lookalike}</bdi></strong> {MISMATCH}" in html
    assert "bаkkerij" not in html


def test_registered_idn_referrer_is_confirmed_in_unicode(
    client: TestClient, registry: SQLiteRegistry
) -> None:
    shop = add_shop(registry, name="Bäckerei Müller", domains=("bäckerei-müller.be",))
    ascii_host = idna.encode("bäckerei-müller.be", uts46=True).decode()
    html = client.get(
        f"/v/{shop.id}?lang=de", headers={"referer": f"https://www.{ascii_host}/brot"}
    ).text
    assert "<strong><bdi>bäckerei-müller.be</bdi></strong> ist eine registrierte Domain" in html


def test_referrer_is_escaped(client: TestClient, shops: dict[str, Shop]) -> None:
    html = client.get(
        f"/v/{shops['certified'].id}?lang=en",
        headers={"referer": 'http://"><img src=x onerror=alert(1)>/'},
    ).text
    assert "<img src=x" not in html
    assert "onerror=alert(1)>" not in html


def test_html_in_shop_names_is_escaped(client: TestClient, registry: SQLiteRegistry) -> None:
    nasty = add_shop(registry, name='<script>alert("x")</script> & <b>Co</b>')
    html = client.get(f"/v/{nasty.id}?lang=en").text
    assert "<script>" not in html
    assert "<b>Co</b>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;Co&lt;/b&gt;" in html
    check_structure(html)
    found = client.get("/verify", params={"q": "script", "lang": "en"}).text
    assert "<script>" not in found and "&lt;script&gt;" in found


@pytest.mark.parametrize("lang", [pytest.param(lang, id=lang) for lang in LANGS])
def test_demo_attestation_is_said_in_the_page_language(
    client: TestClient, registry: SQLiteRegistry, lang: Lang
) -> None:
    demo = add_shop(registry, name="Demo Shop", domains=("demo-shop.be",), attest=False)
    registry.attest_domain(demo.id, "demo-shop.be", actor="demo", reason=DEMO_ATTESTATION)
    own = add_shop(registry, name="Own Shop", domains=("own-shop.be",), attest=False)
    registry.attest_domain(own.id, "own-shop.be", actor="op", reason="registrar's records")
    html = unescape(client.get(f"/v/{demo.id}?lang={lang}").text)
    assert DEMO_ATTESTATION not in html and "`" not in html
    wording = gettext_for(lang, DEMO_WORDING).split("%(date)s")[0]
    assert wording in html, wording
    # No "BeCommerce vouches for the ownership": nobody established it for a demo shop.
    assert gettext_for(lang, VOUCHED) not in html
    # An operator's own note is still quoted as written, the demo wording nowhere.
    html = unescape(client.get(f"/v/{own.id}?lang={lang}").text)
    assert "registrar's records" in html and wording not in html
    assert gettext_for(lang, VOUCHED) in html


@pytest.mark.parametrize(
    "shop_id",
    [
        pytest.param("aaaaaaaaaaaaaaaa", id="well-formed-unknown"),
        pytest.param("nope", id="short"),
        pytest.param("x" * 5000, id="huge"),
        pytest.param("%3Cscript%3E", id="markup"),
        pytest.param("%E2%98%83", id="unicode"),
    ],
)
def test_unknown_shop_gets_a_helpful_404(client: TestClient, shop_id: str) -> None:
    response = client.get(f"/v/{shop_id}?lang=en")
    assert response.status_code == 404
    assert_page_headers(response.headers)
    check_structure(response.text)
    assert "Shop not found" in response.text
    assert 'action="/verify"' in response.text
    assert "<script>" not in response.text


def test_unknown_shop_warns_about_the_referrer(client: TestClient) -> None:
    response = client.get(
        "/v/aaaaaaaaaaaaaaaa?lang=en", headers={"referer": "https://copycat.example/"}
    )
    assert response.status_code == 404
    assert "You came from <bdi>copycat.example</bdi>" in response.text


@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        pytest.param("", None, "nl", id="default-dutch"),
        pytest.param("", "fr-BE,fr;q=0.9,en;q=0.5", "fr", id="accept-language"),
        pytest.param("?lang=de", "fr-BE", "de", id="query-wins"),
        pytest.param("?lang=xx", "en-GB", "en", id="bad-query-ignored"),
        pytest.param("?lang=<b>", None, "nl", id="hostile-query"),
    ],
)
def test_language_negotiation(
    client: TestClient, shops: dict[str, Shop], query: str, accept: str | None, expected: str
) -> None:
    headers = {"accept-language": accept} if accept else {}
    response = client.get(f"/v/{shops['certified'].id}{query}", headers=headers)
    assert f'<html lang="{expected}">' in response.text


def test_language_switcher_links(client: TestClient, shops: dict[str, Shop]) -> None:
    shop = shops["certified"]
    html = client.get(f"/v/{shop.id}?lang=fr").text
    for lang in LANGS:
        assert f'href="/v/{shop.id}?lang={lang}" hreflang="{lang}"' in html
    assert f'href="/v/{shop.id}?lang=fr" hreflang="fr" lang="fr" aria-current="true"' in html


def test_page_follows_a_revocation(
    client: TestClient, registry: SQLiteRegistry, shops: dict[str, Shop]
) -> None:
    shop = shops["certified"]
    assert "status-certified" in client.get(f"/v/{shop.id}").text
    set_state(registry, shop, "revoked")
    wait_until(lambda: "status-revoked" in client.get(f"/v/{shop.id}").text)
    html = client.get(f"/v/{shop.id}?lang=en").text
    assert "Keurmerk revoked" in html.split('<table class="history">')[1]


def test_warm_page_view_touches_no_database(
    client: TestClient, shops: dict[str, Shop], monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = shops["suspended"]
    client.get(f"/v/{shop.id}")
    # The change feed may still bring the fixture's own state changes: wait until it is quiet.
    badges = client.app_state["badges"]
    deadline = time.monotonic() + 5
    entry = badges.entries.current(shop.id)
    while time.monotonic() < deadline:
        time.sleep(0.3)
        client.get(f"/v/{shop.id}")
        if badges.entries.current(shop.id) is entry:
            break
        entry = badges.entries.current(shop.id)
    for lang in LANGS:
        client.get(f"/v/{shop.id}?lang={lang}")
    app_registry = client.app_state["registry"]
    calls: list[str] = []
    for name in ("get_shop", "history", "find_by_domain", "search"):
        original = getattr(app_registry, name)

        def spy(*args: object, _name: str = name, _original: object = original) -> object:
            calls.append(_name)
            return _original(*args)  # type: ignore[operator]

        monkeypatch.setattr(app_registry, name, spy)
    for lang in LANGS:
        assert client.get(f"/v/{shop.id}?lang={lang}").status_code == 200
    assert calls == []


def test_lookup_page_finds_a_shop_by_messy_address(
    client: TestClient, shops: dict[str, Shop]
) -> None:
    response = client.get("/verify", params={"domain": "https://WWW.Bakkerij-Janssens.BE/brood"})
    assert response.status_code == 200
    assert_page_headers(response.headers)
    check_structure(response.text)
    assert "Bakkerij Janssens" in response.text
    assert f'href="/v/{shops["certified"].id}?lang=nl"' in response.text
    assert "answer-ok" in response.text


def test_lookup_page_finds_an_idn_shop(client: TestClient, registry: SQLiteRegistry) -> None:
    add_shop(registry, name="Bäckerei Müller", domains=("bäckerei-müller.be",))
    punycode = idna.encode("bäckerei-müller.be", uts46=True).decode()
    for form in ("BÄCKEREI-MÜLLER.be", punycode, "https://www.bäckerei-müller.be/x"):
        html = client.get("/verify", params={"domain": form, "lang": "de"}).text
        assert "Bäckerei Müller" in html, form
        assert "bäckerei-müller.be" in html


def test_lookup_page_warns_about_an_unregistered_domain(client: TestClient) -> None:
    html = client.get("/verify", params={"domain": "fake-shop.example", "lang": "en"}).text
    assert "<bdi>fake-shop.example</bdi> is not a certified shop." in html
    assert "be careful before you order or pay" in html
    assert "answer-warn" in html


def test_lookup_page_shows_state_of_a_registered_but_revoked_shop(
    client: TestClient, shops: dict[str, Shop]
) -> None:
    html = client.get("/verify", params={"domain": "gadgetplanet.be", "lang": "en"}).text
    assert "not certified at the moment" in html
    assert "pill-revoked" in html


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("not a domain", id="spaces"),
        pytest.param("127.0.0.1", id="ip"),
        pytest.param("<script>.be", id="markup"),
        pytest.param("x" * 3000, id="huge"),
    ],
)
def test_lookup_page_refuses_invalid_domains_calmly(client: TestClient, raw: str) -> None:
    response = client.get("/verify", params={"domain": raw, "lang": "en"})
    assert response.status_code == 200
    assert "is not a valid website address" in response.text
    assert "<script>" not in response.text


def test_name_search(client: TestClient, shops: dict[str, Shop]) -> None:
    html = client.get("/verify", params={"q": "janssens", "lang": "en"}).text
    assert "One shop found for “janssens”" in html
    html = client.get("/verify", params={"q": "e", "lang": "en"}).text
    assert "4 shops found" in html
    html = client.get("/verify", params={"q": "zzzz", "lang": "fr"}).text
    assert "Aucune boutique trouvée" in html


def test_static_stylesheet(client: TestClient) -> None:
    response = client.get("/static/verify.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "set-cookie" not in response.headers
    assert client.get("/static/../badge/app.py").status_code == 404
    # The folder sits inside the package now: its Python files stay out of reach too.
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py"):
        assert client.get(path).status_code == 404, path


def test_no_cookies_anywhere(client: TestClient, shops: dict[str, Shop]) -> None:
    shop = shops["certified"]
    for path in (f"/v/{shop.id}", "/verify", "/verify?q=a", f"/api/v1/shops/{shop.id}"):
        response = client.get(path)
        assert "set-cookie" not in response.headers, path
    assert not client.cookies


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize(
    ("ink", "paper"),
    [
        pytest.param("ink", "white", id="body"),
        pytest.param("muted", "white", id="muted"),
        pytest.param("muted", "grey-soft", id="footer"),
        pytest.param("blue", "white", id="links"),
        pytest.param("white", "blue", id="buttons"),
        pytest.param("blue", "blue-soft", id="certified"),
        pytest.param("amber", "amber-soft", id="suspended"),
        pytest.param("red", "red-soft", id="revoked-and-warnings"),
        pytest.param("green", "green-soft", id="confirmation"),
        pytest.param("grey", "grey-soft", id="expired"),
    ],
)
def test_stylesheet_contrast_is_wcag_aa(ink: str, paper: str) -> None:
    css = (STATIC_DIR / "verify.css").read_text()
    colours = dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", css))
    colours["white"] = "#ffffff"
    assert contrast(colours[ink], colours[paper]) >= 4.5


def test_register_outage_is_a_calm_503(
    client: TestClient, shops: dict[str, Shop], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def down(shop_id: str) -> object:
        raise OSError("database is locked")

    monkeypatch.setattr(client.app_state["badges"].entries, "entry", down)
    page = client.get(f"/v/{shops['certified'].id}?lang=en")
    assert page.status_code == 503
    assert_page_headers(page.headers)
    assert page.headers["cache-control"] == "no-store"
    assert "The register cannot be reached" in page.text
    check_structure(page.text)
    api = client.get(f"/api/v1/shops/{shops['certified'].id}")
    assert api.status_code == 503
    assert api.json()["error"] == "unavailable"
    assert api.headers["cache-control"] == "no-store"


def test_head_requests(client: TestClient, shops: dict[str, Shop]) -> None:
    response = client.head(f"/v/{shops['certified'].id}")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-security-policy"] == CSP


def test_history_rows_merge_the_expiry_by_date() -> None:
    def at(day: int) -> datetime:
        return datetime(2026, 1, day, 12, tzinfo=UTC)

    events = [
        Event(1, "s", at(1), "op", None, "certified", "x"),
        Event(2, "s", at(5), "op", "certified", "suspended", "x"),
        Event(3, "s", at(5), "op", "suspended", "certified", "x"),
        Event(4, "s", at(20), "op", "certified", "certified", "x"),
    ]
    rows = history_rows(events, "expired", at(10))
    assert [what for _, what in rows] == [
        "renewed",
        "expired",
        "restored",
        "suspended",
        "granted",
    ]


def test_a_shop_registered_as_certified_was_granted_on_its_certification_day(
    client: TestClient, registry: SQLiteRegistry
) -> None:
    """Seeded and imported shops: the history agrees with "certified since", not the typing day."""
    shop = add_shop(registry, name="Oude Bakker", domains=("oude-bakker.be",))
    assert shop.certified_since is not None and shop.certified_since < today()
    html = client.get(f"/v/{shop.id}?lang=en").text
    history = html.split('<table class="history">')[1].split("</table>")[0]
    day = format_day("en", shop.certified_since)
    assert re.search(rf"<td>{day}</td><td>\s*Keurmerk granted", history), history
    assert f"Certified since {day}" in html
    # A later event keeps its own time.
    events = [Event(1, "s", datetime(2026, 3, 1, 9, tzinfo=UTC), "op", None, "certified", "x")]
    rows = history_rows(events, "certified", datetime(2026, 3, 1, tzinfo=UTC), date(2025, 1, 1))
    assert rows[0][0].date() == date(2025, 1, 1)
    assert history_rows(events, "certified", datetime(2026, 3, 1, tzinfo=UTC))[0][0].day == 1


@pytest.mark.parametrize("lang", LANGS)
def test_an_operators_note_is_quoted_escaped_in_the_sentence_of_the_page_language(
    client: TestClient, registry: SQLiteRegistry, lang: Lang
) -> None:
    shop = add_shop(registry, name="Note Shop", domains=("note-shop.be",), attest=False)
    registry.attest_domain(shop.id, "note-shop.be", actor="op", reason="<b>KBO</b> & co")
    html = client.get(f"/v/{shop.id}?lang={lang}").text
    assert "<b>KBO</b>" not in html
    assert '<q dir="auto">&lt;b&gt;KBO&lt;/b&gt; &amp; co</q>' in html
    # The colon belongs to the sentence, so French puts its no-break space before it.
    sentence = gettext_for(lang, "Ownership confirmed by BeCommerce on %(date)s")
    colon = "\u00a0:" if lang == "fr" else ":"
    assert sentence.split("%(date)s")[0] in html and f"{colon} <q" in html
