"""The badge images over HTTP, in process: /b/{id}.svg|png for every state, its headers,
conditional requests, parameters, hostile input, the baked signature and live revocation."""

from __future__ import annotations

import gzip
import io
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast
from xml.etree.ElementTree import Element

import anyio
import brotli
import cairosvg
import jwt
import pytest
from defusedxml.ElementTree import fromstring
from PIL import Image
from starlette.testclient import TestClient

from badge.app import create_app
from badge.platform.metrics import Metrics
from badge.registry import rules
from badge.registry.model import Shop
from badge.registry.sqlite import SQLiteRegistry
from badge.render.artwork import BRAND_BLUE, THUMBS_UP
from badge.render.png import bake
from badge.serving.hotpath import HotPathStats
from badge.serving.query import BadgeQuery
from badge.serving.service import ERROR_TEXTS, BadgeService
from badge.settings import Settings
from badge.signing import KeyStore
from badge.verify.check import extract_token
from badge.vocabulary import SIZES
from tests.conftest import add_shop
from tests.faulty import FlakyRegistry, outage_and_bug, tracebacks
from tests.verdicts import judge

SVG = "{http://www.w3.org/2000/svg}"
STATES = ("certified", "suspended", "revoked", "expired", "unknown")
FORMATS = ("svg", "png")
LANGS = ("nl", "fr", "de", "en")
BLUE = tuple(int(BRAND_BLUE[i : i + 2], 16) for i in (1, 3, 5))


# A browser showing the badge on the certified shop's own page sends this origin.
SHOP_PAGE = "https://www.bakkerij-test.be/"
ON_SHOP = "bakkerij-test.be"  # that page's class, as the hot path hands it to BadgeService


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A browser on the certified shop's own website (the page decides what a badge says)."""
    with TestClient(create_app(settings), headers={"referer": SHOP_PAGE}) as test_client:
        yield test_client


@pytest.fixture
def shops(registry: SQLiteRegistry) -> dict[str, Shop]:
    certified = add_shop(
        registry,
        name="Bakkerij Test",
        domains=("bakkerij-test.be", "www.boulangerie-test.be"),
        categories=("b2c_member", "sponsor"),
    )
    suspended = add_shop(
        registry, name="Fietsen Test", domains=("fietsen-test.be",), state="suspended"
    )
    revoked = add_shop(registry, name="Gadget Test", domains=("gadget-test.be",))
    registry.set_state(revoked.id, "revoked", reason="expelled", actor="test")
    expired = add_shop(registry, name="Boeken Test", domains=("boeken-test.be",), valid_days=-10)
    return {
        "certified": certified,
        "suspended": suspended,
        "revoked": revoked,
        "expired": expired,
    }


def shop_id(shops: dict[str, Shop], state: str) -> str:
    # A well-formed id that was never issued: the registry is asked and says no.
    return shops[state].id if state in shops else "zzzzzzzzzzzzzzzz"


def parse_svg(body: bytes) -> Element:
    root = fromstring(body)
    assert root.tag == f"{SVG}svg"
    return root


def title(body: bytes) -> str:
    element = parse_svg(body).find(f"{SVG}title")
    assert element is not None and element.text is not None
    return element.text


def thumbs_up_svg(body: bytes) -> bool:
    return THUMBS_UP in body.decode()


def blue_pixels(png: bytes) -> int:
    with Image.open(io.BytesIO(png)) as image:
        rgb = image.convert("RGB")
    colours = rgb.getcolors(maxcolors=1 << 20)
    assert colours is not None
    total = 0
    for count, colour in colours:
        rgb_values = cast(tuple[int, int, int], colour)
        if all(abs(c - b) <= 12 for c, b in zip(rgb_values, BLUE, strict=True)):
            total += count
    return total


def png_size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        image.verify()
        return image.size


def token_of(body: bytes) -> str | None:
    try:
        return extract_token(body)
    except Exception:
        return None


def counter(client: TestClient, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not in /metrics")


def assert_common_headers(headers: Any, fmt: str) -> None:
    etag = headers["etag"]
    # A compressed form has its own ETag: the identity one with the coding as suffix.
    assert re.fullmatch(r'"[0-9a-f]{16,64}(-gzip|-br)?"', etag), etag
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cross-origin-resource-policy"] == "cross-origin"
    assert "set-cookie" not in headers
    # What it says depends on the page showing it; an SVG's bytes on the coding too.
    assert headers["vary"] == ("Referer, Accept-Encoding" if fmt == "svg" else "Referer")
    if fmt == "svg":
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "script-src" not in csp or "'none'" in csp
        assert headers["content-type"] == "image/svg+xml; charset=utf-8"
    else:
        assert headers["content-type"] == "image/png"


# -- every state in both formats ----------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("state", STATES)
def test_badge_per_state(
    client: TestClient, shops: dict[str, Shop], settings: Settings, state: str, fmt: str
) -> None:
    ident = shop_id(shops, state)
    response = client.get(f"/b/{ident}.{fmt}?lang=en")
    assert response.status_code == (404 if state == "unknown" else 200)
    assert_common_headers(response.headers, fmt)
    assert int(response.headers["content-length"]) == response.num_bytes_downloaded
    assert len(response.content) > 500
    cache_control = response.headers["cache-control"]
    assert cache_control.startswith("public")
    if state != "unknown":
        max_age = int(re.search(r"max-age=(\d+)", cache_control)[1])  # type: ignore[index]
        swr = int(re.search(r"stale-while-revalidate=(\d+)", cache_control)[1])  # type: ignore[index]
        assert (max_age, swr) == (settings.max_age, settings.stale_while_revalidate)
        assert max_age + swr <= 60
        # The edge's lifetime is a header of its own, which the VCL strips.
        assert response.headers["surrogate-control"] == f"max-age={settings.edge_max_age}"

    # The PNG is exactly the SVG of the same variant, rasterised; so what holds for the SVG's
    # artwork holds for the PNG's pixels.
    svg = response.content if fmt == "svg" else client.get(f"/b/{ident}.svg?lang=en").content
    token = token_of(svg)
    if fmt == "png":
        drawn = cairosvg.svg2png(bytestring=svg, scale=1)  # the SVG as an SVG renderer sees it
        assert response.content == (drawn if token is None else bake(drawn, token))
        assert token_of(response.content) == token
        assert (blue_pixels(response.content) > 200) is (state == "certified")

    certified = state == "certified"
    assert thumbs_up_svg(svg) is certified
    assert (BRAND_BLUE in svg.decode()) is certified
    root = parse_svg(svg)
    assert root.get("role") == "img"
    label = title(svg)
    assert "Click to verify" in label
    if state == "unknown":
        assert token is None
        assert "unknown shop" in label and "not certified" in label
    else:
        assert shops[state].display_name in label
        assert f", {state}." in label
        assert token is not None


def test_unknown_and_malformed_ids_share_the_neutral_404(client: TestClient) -> None:
    never_issued = client.get(f"/b/{rules.new_shop_id()}.svg")
    malformed = client.get("/b/not-an-id.svg")
    assert never_issued.status_code == malformed.status_code == 404
    assert never_issued.content == malformed.content
    assert not thumbs_up_svg(never_issued.content)


# -- conditional requests and HEAD --------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_if_none_match_gives_304(client: TestClient, shops: dict[str, Shop], fmt: str) -> None:
    url = f"/b/{shops['certified'].id}.{fmt}"
    first = client.get(url)
    etag = first.headers["etag"]
    assert not etag.startswith("W/")
    for header in (
        etag,
        f'"nope", {etag}',
        f'"a","b",  {etag} ,"c"',
        f"W/{etag}",
        f'W/"x", W/{etag}',
        "*",
    ):
        response = client.get(url, headers={"if-none-match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert response.headers["cache-control"] == first.headers["cache-control"]
        assert "set-cookie" not in response.headers
    for header in ('"nope"', etag[:-2] + '"', "", "W/"):
        response = client.get(url, headers={"if-none-match": header})
        assert response.status_code == 200, header
        assert response.content == first.content
    head = client.head(url, headers={"if-none-match": etag})
    assert head.status_code == 304 and head.content == b""


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("state", ["certified", "unknown"])
def test_head_has_the_headers_and_no_body(
    client: TestClient, shops: dict[str, Shop], state: str, fmt: str
) -> None:
    url = f"/b/{shop_id(shops, state)}.{fmt}?size=l"
    for coding in ("identity", "gzip", "br"):
        sent = {"accept-encoding": coding}
        got = client.get(url, headers=sent)
        head = client.head(url, headers=sent)
        assert head.status_code == got.status_code
        assert head.content == b""
        assert head.headers["content-length"] == got.headers["content-length"]
        assert dict(head.headers) == dict(got.headers)
        raw = client.get(url, headers=sent)
        assert int(raw.headers["content-length"]) == raw.num_bytes_downloaded


def test_other_methods_are_refused(client: TestClient, shops: dict[str, Shop]) -> None:
    response = client.post(f"/b/{shops['certified'].id}.svg", content=b"x")
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]


# -- sizes, languages, scales ------------------------------------------------------------


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("lang", LANGS)
def test_svg_has_fixed_dimensions_in_every_language(
    client: TestClient, shops: dict[str, Shop], lang: str, size: str
) -> None:
    width, height = SIZES[size]  # type: ignore[index]
    for state in STATES:
        body = client.get(f"/b/{shop_id(shops, state)}.svg?lang={lang}&size={size}").content
        root = parse_svg(body)
        assert (root.get("width"), root.get("height")) == (str(width), str(height)), state
        assert root.get("viewBox") == f"0 0 {width} {height}"
        element = root.find(f"{SVG}title")
        assert element is not None
        assert element.get("{http://www.w3.org/XML/1998/namespace}lang") == lang


@pytest.mark.parametrize("scale", [1, 2, 3])
@pytest.mark.parametrize("size", list(SIZES))
def test_png_pixels_are_size_times_scale(
    client: TestClient, shops: dict[str, Shop], size: str, scale: int
) -> None:
    response = client.get(f"/b/{shops['certified'].id}.png?size={size}&scale={scale}")
    assert response.status_code == 200
    width, height = SIZES[size]  # type: ignore[index]
    assert png_size(response.content) == (width * scale, height * scale)
    assert token_of(response.content) is not None


def test_scale_does_not_change_an_svg(client: TestClient, shops: dict[str, Shop]) -> None:
    plain = client.get(f"/b/{shops['certified'].id}.svg")
    scaled = client.get(f"/b/{shops['certified'].id}.svg?scale=3")
    assert scaled.status_code == 200
    assert scaled.content == plain.content


def test_unknown_parameters_are_ignored(client: TestClient, shops: dict[str, Shop]) -> None:
    plain = client.get(f"/b/{shops['certified'].id}.svg")
    busted = client.get(f"/b/{shops['certified'].id}.svg?v=2&utm_source=x&&=&lang2=zz")
    assert busted.status_code == 200
    assert busted.content == plain.content


BAD_QUERIES = [
    pytest.param("size=xl", "size", "xl", id="size-xl"),
    pytest.param("lang=xx", "lang", "xx", id="lang-xx"),
    pytest.param("lang=NL", "lang", "NL", id="lang-upper"),
    pytest.param("scale=4", "scale", "4", id="scale-4"),
    pytest.param("scale=0", "scale", "0", id="scale-0"),
    pytest.param("scale=abc", "scale", "abc", id="scale-abc"),
    pytest.param("scale=", "scale", "", id="scale-empty"),
    pytest.param("d=" + "a" * 254, "d", "aaaaaaaaaaa?", id="d-overlong"),
    pytest.param("d=", "d", "", id="d-empty"),
    pytest.param("x=" + "a" * 5000, "query", "too long", id="query-5000"),
    pytest.param("lang=%3Cscript%3E", "lang", "%3Cscript%3E", id="lang-markup"),
    pytest.param("size=%00%ff", "size", "%00%ff", id="size-bytes"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("query", "kind", "value"), BAD_QUERIES)
def test_bad_parameters_get_400_with_an_error_badge(
    client: TestClient, shops: dict[str, Shop], query: str, kind: str, value: str, fmt: str
) -> None:
    response = client.get(f"/b/{shops['certified'].id}.{fmt}?{query}")
    assert response.status_code == 400
    assert_common_headers(response.headers, fmt)
    assert response.headers["cache-control"] == "no-store"
    # The bad value is named in a header only; the image is one of a few prepared ones.
    assert response.headers["x-badge-error"].startswith(ERROR_TEXTS[kind])  # type: ignore[index]
    assert f"(got {value})" in response.headers["x-badge-error"]
    if fmt == "svg":
        root = parse_svg(response.content)
        assert (root.get("width"), root.get("height")) == tuple(str(n) for n in SIZES["m"])
        assert not thumbs_up_svg(response.content)
        assert "<script" not in response.text
        # The accessible name says which parameter was wrong (the wording is translated).
        assert ERROR_TEXTS[kind] in title(response.content)  # type: ignore[index]
        if len(value) > 2 and value not in ERROR_TEXTS[kind]:  # type: ignore[index]
            assert value not in response.text
    else:
        assert png_size(response.content) == SIZES["m"]
        assert blue_pixels(response.content) == 0
    assert token_of(response.content) is None


def test_error_badges_are_a_fixed_few(client: TestClient, shops: dict[str, Shop]) -> None:
    """Distinct bad values cost no render: the same prepared bytes answer them all."""
    shop_id = shops["certified"].id
    first = client.get(f"/b/{shop_id}.png?lang=aa")
    service = client.app_state["badges"]
    renders = service.stats().drawing.renders
    bodies = {client.get(f"/b/{shop_id}.png?lang=z{n}").content for n in range(50)}
    assert bodies == {first.content}
    assert service.stats().drawing.renders == renders


ODD_IDS = [
    pytest.param("..%2F..%2Fetc%2Fpasswd", id="traversal"),
    pytest.param("%2e%2e", id="dotdot"),
    pytest.param("%00", id="nul"),
    pytest.param("abc%00def", id="nul-inside"),
    pytest.param("a" * 200, id="200-chars"),
    pytest.param("UPPER", id="upper"),
    pytest.param("", id="empty"),
    pytest.param("ID%0A", id="newline"),
    pytest.param("ID%20", id="trailing-space"),
    pytest.param("%ff%fe", id="not-utf8"),
    pytest.param("%F0%9F%9B%92", id="emoji"),
    pytest.param("ID.svg", id="double-extension"),
    pytest.param("ID/ID", id="slash"),
    pytest.param("%3Cscript%3E", id="markup"),
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("raw", ODD_IDS)
def test_odd_ids_are_404_never_500(
    client: TestClient, shops: dict[str, Shop], raw: str, fmt: str
) -> None:
    real = shops["certified"].id
    raw = real.upper() if raw == "UPPER" else raw.replace("ID", real)
    response = client.get(f"/b/{raw}.{fmt}")
    assert response.status_code in (400, 404), response.status_code
    if response.headers["content-type"].startswith("image/svg"):
        assert not thumbs_up_svg(response.content)
        parse_svg(response.content)
    elif response.headers["content-type"] == "image/png":
        assert blue_pixels(response.content) == 0
        png_size(response.content)
    assert token_of(response.content) is None


@pytest.mark.parametrize("path", ["/b/", "/b/x", "/b/ID.gif", "/b/ID.SVG", "/b/ID.svg/"])
def test_other_paths_under_b_are_plain_404(
    client: TestClient, shops: dict[str, Shop], path: str
) -> None:
    response = client.get(path.replace("ID", shops["certified"].id))
    assert response.status_code == 404


# -- the site the badge is shown on -------------------------------------------------------


def variant(body: bytes) -> dict[str, Any]:
    return cast(dict[str, Any], jwt.decode(token_of(body), options={"verify_signature": False}))


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_page_that_shows_the_badge_decides(
    client: TestClient, shops: dict[str, Shop], fmt: str
) -> None:
    ident = shops["certified"].id
    url = f"/b/{ident}.{fmt}?lang=en"
    own = client.get(url)
    assert own.status_code == 200
    assert (
        variant(own.content).items() >= {"variant": "certified", "site": "bakkerij-test.be"}.items()
    )
    # Port, case, `www.` and a trailing dot do not matter; each registered domain counts.
    for page in (
        "https://bakkerij-test.be/",
        "https://BAKKERIJ-TEST.BE:8443/x?y",
        "http://www.bakkerij-test.be./",
    ):
        same = client.get(url, headers={"referer": page})
        assert same.content == own.content, page
        assert same.headers["etag"] == own.headers["etag"]
    other_domain = client.get(url, headers={"referer": "https://boulangerie-test.be/"})
    assert variant(other_domain.content)["site"] == "boulangerie-test.be"
    assert other_domain.headers["etag"] != own.headers["etag"]
    if fmt == "svg":
        assert thumbs_up_svg(own.content) and thumbs_up_svg(other_domain.content)
    # Any other page: "not valid for this site", never the thumbs-up.
    for page in (
        "https://fake.example/",
        "https://bakkerij-test.be.evil.example/",
        "http://127.0.0.2:8080/",
        "https://[::1]/",
        "android-app://com.example/",
        "not a url",
    ):
        foreign = client.get(url, headers={"referer": page})
        assert foreign.status_code == 200, page
        assert variant(foreign.content)["variant"] == "mismatch", page
        assert "site" not in variant(foreign.content)
        if fmt == "svg":
            assert not thumbs_up_svg(foreign.content)
            assert "not registered" in title(foreign.content)
            assert BRAND_BLUE not in foreign.text
        else:
            assert blue_pixels(foreign.content) == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_referer_gets_the_neutral_badge_that_names_the_shop(
    client: TestClient, shops: dict[str, Shop], fmt: str
) -> None:
    url = f"/b/{shops['certified'].id}.{fmt}?lang=en"
    for headers in ({"referer": ""}, {}):
        # TestClient sends its default Referer unless the header is removed.
        request = client.build_request("GET", url, headers=headers)
        if not headers:
            del request.headers["referer"]
        response = client.send(request)
        assert response.status_code == 200
        assert variant(response.content)["variant"] == ("neutral" if not headers else "mismatch")
        if fmt == "svg":
            assert not thumbs_up_svg(response.content)
            assert BRAND_BLUE not in response.text
        else:
            assert blue_pixels(response.content) == 0
    request = client.build_request("GET", url.replace("lang=en", "lang=nl"))
    del request.headers["referer"]
    body = client.send(request).content
    if fmt == "svg":
        assert title(body).startswith("Bakkerij Test: ")


@pytest.mark.parametrize("fmt", FORMATS)
def test_d_can_only_make_a_badge_less_certified(
    client: TestClient, shops: dict[str, Shop], fmt: str
) -> None:
    ident = shops["certified"].id
    own = client.get(f"/b/{ident}.{fmt}?lang=en")
    for host in (
        "bakkerij-test.be",
        "www.bakkerij-test.be",
        "BAKKERIJ-TEST.BE",
        "boulangerie-test.be",
    ):
        same = client.get(f"/b/{ident}.{fmt}?lang=en&d={host}")
        assert same.content == own.content, host
    for host in ("fake.example", "bakkerij-test.be.evil.example", "not a host", "127.0.0.1"):
        other = client.get(f"/b/{ident}.{fmt}?lang=en&d={host}")
        assert other.status_code == 200, host
        assert variant(other.content)["variant"] == "mismatch", host
    # A foreign page that claims a registered domain is still foreign.
    claimed = client.get(
        f"/b/{ident}.{fmt}?lang=en&d=bakkerij-test.be", headers={"referer": "https://fake.example/"}
    )
    assert variant(claimed.content)["variant"] == "mismatch"
    # Without a Referer, a registered `d` does not make it certified either.
    request = client.build_request("GET", f"/b/{ident}.{fmt}?lang=en&d=bakkerij-test.be")
    del request.headers["referer"]
    assert variant(client.send(request).content)["variant"] == "neutral"


def test_international_domain_names_match_in_punycode(
    client: TestClient, registry: SQLiteRegistry
) -> None:
    shop = add_shop(registry, name="Bücherwurm", domains=("bücher-test.be",))
    # Browsers send the host in ASCII (punycode).
    page = {"referer": "https://www.xn--bcher-test-9db.be/"}
    plain = client.get(f"/b/{shop.id}.svg", headers=page).content
    assert thumbs_up_svg(plain)
    for host in ("b%C3%BCcher-test.be", "xn--bcher-test-9db.be", "www.B%C3%9CCHER-test.be"):
        body = client.get(f"/b/{shop.id}.svg?d={host}", headers=page).content
        assert body == plain, host
    assert not thumbs_up_svg(client.get(f"/b/{shop.id}.svg?d=bucher-test.be", headers=page).content)


def test_d_does_not_resurrect_a_suspended_shop(client: TestClient, shops: dict[str, Shop]) -> None:
    for host in ("fietsen-test.be", "fake.example"):
        page = {"referer": "https://fietsen-test.be/"}
        body = client.get(f"/b/{shops['suspended'].id}.svg?lang=en&d={host}", headers=page).content
        assert not thumbs_up_svg(body)
        assert ", suspended." in title(body)


def test_our_own_pages_count_as_the_shops_own(
    client: TestClient, shops: dict[str, Shop], settings: Settings
) -> None:
    url = f"/b/{shops['certified'].id}.svg"
    for page in (f"{settings.public_url}/embed/x", f"{settings.public_url}/v/x?lang=fr"):
        body = client.get(url, headers={"referer": page}).content
        assert thumbs_up_svg(body), page
        assert variant(body)["variant"] == "certified"
    # Only BADGE_PUBLIC_URL is ours: a proxy that forwards its own Host header is not.
    body = client.get(url, headers={"referer": "https://evil.example/", "host": "evil.example"})
    assert variant(body.content)["variant"] == "mismatch"
    assert variant(body.content).get("site") is None


# -- hostile shop names ------------------------------------------------------------------


def test_markup_in_a_shop_name_is_escaped(
    client: TestClient, registry: SQLiteRegistry, settings: Settings
) -> None:
    name = "<script>alert(1)</script> & \"Q\" 'x'"
    hostile = add_shop(registry, name=name, domains=("hostile-test.be",))
    for size in SIZES:
        response = client.get(f"/b/{hostile.id}.svg?lang=en&size={size}")
        assert response.status_code == 200
        assert "<script" not in response.text.lower()
        assert name not in response.text
        assert title(response.content).startswith(name + ": ")
    png = client.get(f"/b/{hostile.id}.png")
    assert png.status_code == 200
    claims = jwt.decode(
        token_of(png.content) or "", options={"verify_signature": False}, algorithms=["EdDSA"]
    )
    assert claims["name"] == name


# -- the signature -------------------------------------------------------------------------


def test_baked_token_verifies_against_the_published_jwks(
    client: TestClient, shops: dict[str, Shop], settings: Settings
) -> None:
    shop = shops["certified"]
    jwks_response = client.get("/.well-known/jwks.json")
    assert jwks_response.status_code == 200
    assert jwks_response.headers["content-type"].startswith("application/json")
    key_set = jwt.PyJWKSet.from_dict(jwks_response.json())
    tokens = []
    for fmt in FORMATS:
        token = token_of(client.get(f"/b/{shop.id}.{fmt}").content)
        assert token is not None
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "EdDSA"
        claims = jwt.decode(
            token,
            key_set[header["kid"]].key,
            algorithms=["EdDSA"],
            issuer=settings.public_url,
            options={"require": ["iss", "sub", "iat", "exp"]},
        )
        assert claims["iss"] == settings.public_url
        assert claims["sub"] == shop.id
        assert claims["name"] == shop.display_name
        assert claims["domains"] == ["bakkerij-test.be", "boulangerie-test.be"]
        assert claims["state"] == "certified"
        assert abs(claims["iat"] - time.time()) < 60
        assert claims["exp"] - claims["iat"] == settings.token_ttl
        tokens.append(token)
    # Signed once per shop: both formats carry the same token.
    assert tokens[0] == tokens[1]


@pytest.mark.parametrize("state", ["suspended", "revoked", "expired"])
def test_tokens_of_other_states_say_so(
    client: TestClient, shops: dict[str, Shop], state: str
) -> None:
    token = token_of(client.get(f"/b/{shops[state].id}.svg").content)
    claims = jwt.decode(token or "", options={"verify_signature": False}, algorithms=["EdDSA"])
    assert claims["state"] == state


def test_any_changed_character_makes_the_token_not_genuine(
    client: TestClient, shops: dict[str, Shop], settings: Settings
) -> None:
    shop = shops["certified"]
    token = token_of(client.get(f"/b/{shop.id}.svg").content)
    assert token is not None
    keys = KeyStore(settings.keys_dir, token_ttl=settings.token_ttl)
    assert keys.ensure() is False  # the app made the key; this reads it

    verdict = judge(token, keys, shop, "certified", issuer=settings.public_url)
    assert verdict.genuine and verdict.ok and verdict.shop_id == shop.id

    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    survivors = []
    for index, char in enumerate(token):
        if char == ".":
            continue
        swapped = alphabet[(alphabet.index(char) + 1) % len(alphabet)]
        altered = token[:index] + swapped + token[index + 1 :]
        verdict = judge(altered, keys, shop, "certified", issuer=settings.public_url)
        if verdict.genuine or verdict.ok:
            survivors.append(index)
    assert survivors == [], f"altered tokens still genuine at {survivors} of {len(token)}"


# -- caching --------------------------------------------------------------------------------


def test_repeat_requests_do_no_rendering_or_signing(
    shops: dict[str, Shop], client: TestClient
) -> None:
    # `shops` first: created before the app starts, so no change-feed invalidation follows.
    ident = shops["certified"].id
    urls = [f"/b/{ident}.svg", f"/b/{ident}.png?scale=2", f"/b/{ident}.svg?d=fake.example"]
    first = [client.get(url) for url in urls]
    renders = counter(client, "badge_renders_total")
    signatures = counter(client, "badge_signatures_total")
    assert signatures >= 1
    for _ in range(10):
        for url, earlier in zip(urls, first, strict=True):
            again = client.get(url)
            assert again.content == earlier.content
            assert again.headers["etag"] == earlier.headers["etag"]
        client.head(urls[0])
        client.get(urls[1], headers={"if-none-match": first[1].headers["etag"]})
    assert counter(client, "badge_renders_total") == renders
    assert counter(client, "badge_signatures_total") == signatures
    # A new variant of the same shop renders once more but is not signed again.
    client.get(f"/b/{ident}.svg?lang=fr&size=s")
    assert counter(client, "badge_renders_total") == renders + 1
    assert counter(client, "badge_signatures_total") == signatures


def test_a_png_that_looks_the_same_is_never_rasterised_twice(
    shops: dict[str, Shop], client: TestClient
) -> None:
    """Another registered domain's variant has its own signature but the same pixels."""
    ident = shops["certified"].id
    service = cast(BadgeService, client.app_state["badges"])
    own = client.get(f"/b/{ident}.png?scale=2")
    before = service.stats().drawing.rasters
    other = client.get(
        f"/b/{ident}.png?scale=2", headers={"referer": "https://boulangerie-test.be/"}
    )
    assert service.stats().drawing.rasters == before
    assert variant(other.content)["site"] == "boulangerie-test.be"
    assert variant(own.content)["site"] == "bakkerij-test.be"
    assert other.headers["etag"] != own.headers["etag"]
    # Same pixels: only the signature chunk differs.
    assert (
        Image.open(io.BytesIO(own.content)).tobytes()
        == Image.open(io.BytesIO(other.content)).tobytes()
    )
    # A re-signed badge (here: after a key rotation, as the change feed handles it) too.
    service.loader.keys.rotate()
    service.invalidate_all()
    signed = service.stats().loader.signatures
    again = client.get(f"/b/{ident}.png?scale=2")
    assert again.status_code == 200 and service.stats().loader.signatures > signed
    assert service.stats().drawing.rasters == before


# -- content codings ------------------------------------------------------------------------


def raw_get(client: TestClient, url: str, headers: dict[str, str]) -> tuple[Any, bytes]:
    """The response and its bytes as sent, before the client undoes any content coding."""
    with client.stream("GET", url, headers=headers) as response:
        return response, b"".join(response.iter_raw())


@pytest.mark.parametrize(
    ("accept", "coding", "decode"),
    [
        pytest.param("identity", None, lambda b: b, id="identity"),
        pytest.param("gzip, deflate", "gzip", gzip.decompress, id="gzip"),
        pytest.param("gzip, deflate, br, zstd", "br", brotli.decompress, id="br"),
        pytest.param("br;q=0, gzip", "gzip", gzip.decompress, id="br-refused"),
    ],
)
@pytest.mark.parametrize("state", ["certified", "unknown"])
def test_svg_badges_are_sent_in_the_accepted_coding(
    client: TestClient,
    shops: dict[str, Shop],
    state: str,
    accept: str,
    coding: str | None,
    decode: Any,
) -> None:
    url = f"/b/{shop_id(shops, state)}.svg?lang=fr"
    plain, plain_bytes = raw_get(client, url, {"accept-encoding": "identity"})
    response, sent = raw_get(client, url, {"accept-encoding": accept})
    assert response.status_code == plain.status_code
    assert response.headers.get("content-encoding") == coding
    assert response.headers["vary"] == "Referer, Accept-Encoding"
    assert int(response.headers["content-length"]) == len(sent)
    assert decode(sent) == plain_bytes
    if coding is not None:
        assert len(sent) < len(plain_bytes) * 0.6
        assert response.headers["etag"] == plain.headers["etag"][:-1] + f'-{coding}"'
    head = client.head(url, headers={"accept-encoding": accept})
    assert dict(head.headers) == dict(response.headers)


def test_a_png_is_never_recoded(client: TestClient, shops: dict[str, Shop]) -> None:
    url = f"/b/{shops['certified'].id}.png"
    response, sent = raw_get(client, url, {"accept-encoding": "gzip, br"})
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Referer"
    assert sent.startswith(b"\x89PNG")


def test_each_coding_revalidates_with_its_own_etag(
    client: TestClient, shops: dict[str, Shop]
) -> None:
    url = f"/b/{shops['certified'].id}.svg"
    tags = {
        accept: client.get(url, headers={"accept-encoding": accept}).headers["etag"]
        for accept in ("identity", "gzip", "br")
    }
    assert len(set(tags.values())) == 3
    for accept, etag in tags.items():
        for other, other_etag in tags.items():
            response = client.get(
                url, headers={"accept-encoding": accept, "if-none-match": other_etag}
            )
            if other == accept:
                assert response.status_code == 304
                assert response.headers["etag"] == etag
                assert response.headers["vary"] == "Referer, Accept-Encoding"
            else:
                # A cache holding another coding's bytes must get these ones in full.
                assert response.status_code == 200
                assert response.headers["etag"] == etag


def test_coded_forms_are_prepared_once_not_per_request(
    shops: dict[str, Shop], client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import badge.platform.http
    import badge.serving.responses

    calls: list[int] = []
    real = badge.platform.http.compress

    def counting(body: bytes, coding: Any, *, best: bool = False) -> bytes:
        calls.append(coding)
        return real(body, coding, best=best)

    monkeypatch.setattr(badge.serving.responses, "compress", counting)
    url = f"/b/{shops['certified'].id}.svg?size=s"
    first = client.get(url, headers={"accept-encoding": "br"})
    built = len(calls)
    assert built == 3  # identity, gzip and br, when the variant was rendered
    for accept in ("br", "gzip", "identity", "gzip, br") * 5:
        again = client.get(url, headers={"accept-encoding": accept})
        assert again.content == first.content
    assert len(calls) == built


# -- live state ----------------------------------------------------------------------------


def wait_until(check: Any, limit: float) -> float:
    started = time.monotonic()
    while True:
        if check():
            return time.monotonic() - started
        if time.monotonic() - started > limit:
            raise AssertionError(f"not reached within {limit} s")
        time.sleep(0.05)


@pytest.mark.parametrize("target", ["revoked", "suspended"])
def test_state_change_in_another_connection_is_live_within_a_second(
    client: TestClient, registry: SQLiteRegistry, shops: dict[str, Shop], target: str
) -> None:
    shop = shops["certified"]
    svg_url, png_url = f"/b/{shop.id}.svg", f"/b/{shop.id}.png"
    before = client.get(svg_url)
    assert thumbs_up_svg(before.content)
    client.get(png_url)

    registry.set_state(shop.id, target, reason="test", actor="test")  # type: ignore[arg-type]
    delay = wait_until(lambda: not thumbs_up_svg(client.get(svg_url).content), 1.0)
    print(f"\n{target}: badge neutral {delay * 1000:.0f} ms after the registry change")

    after = client.get(svg_url, headers={"if-none-match": before.headers["etag"]})
    assert after.status_code == 200  # the old ETag no longer matches
    assert after.headers["etag"] != before.headers["etag"]
    png = client.get(png_url).content
    assert blue_pixels(png) == 0
    for body in (after.content, png):
        claims = jwt.decode(
            token_of(body) or "", options={"verify_signature": False}, algorithms=["EdDSA"]
        )
        assert claims["state"] == target


def test_a_certified_again_shop_gets_its_thumbs_up_back(
    client: TestClient, registry: SQLiteRegistry, shops: dict[str, Shop]
) -> None:
    shop = shops["suspended"]
    url = f"/b/{shop.id}.svg"
    client.headers["referer"] = "https://fietsen-test.be/"
    assert not thumbs_up_svg(client.get(url).content)
    registry.set_state(shop.id, "certified", reason="cleared", actor="test")
    wait_until(lambda: thumbs_up_svg(client.get(url).content), 1.0)


def test_jwks_is_public_and_cacheable(client: TestClient) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response.headers["access-control-allow-origin"] == "*"
    assert "public" in response.headers["cache-control"]
    (key,) = response.json()["keys"]
    assert "d" not in key and key["alg"] == "EdDSA"


# -- registry outage -----------------------------------------------------------------------


@pytest.fixture
def outage(
    settings: Settings, registry: SQLiteRegistry, tmp_path: Path
) -> Iterator[tuple[BadgeService, FlakyRegistry, list[float], Shop]]:
    shop = add_shop(registry, domains=(ON_SHOP,))
    keys = KeyStore(tmp_path / "outage-keys", token_ttl=settings.token_ttl)
    keys.ensure()
    flaky = FlakyRegistry(registry)
    now = [1000.0]
    service = BadgeService(settings, flaky, keys, clock=lambda: now[0])
    yield service, flaky, now, shop
    if flaky.hang is not None:
        flaky.hang.set()


def test_registry_down_serves_last_state_then_neutral_503(
    outage: tuple[BadgeService, FlakyRegistry, list[float], Shop], settings: Settings
) -> None:
    service, flaky, now, shop = outage

    async def scenario() -> None:
        good = await service.get(shop.id, "svg", BadgeQuery("en"), ON_SHOP)
        assert good.status == 200 and thumbs_up_svg(good.body)

        flaky.down = True
        now[0] += settings.stale_limit - 1
        assert service.entries.lookup(shop.id, "svg", BadgeQuery("en"), ON_SHOP, now[0]) is good
        assert await service.get(shop.id, "svg", BadgeQuery("en"), ON_SHOP) is good

        now[0] += 2  # past BADGE_STALE_LIMIT with no word from the change feed
        assert service.entries.lookup(shop.id, "svg", BadgeQuery("en"), ON_SHOP, now[0]) is None
        for fmt in FORMATS:
            down = await service.get(shop.id, fmt, BadgeQuery("en"), ON_SHOP)  # type: ignore[arg-type]
            assert down.status == 503
            assert token_of(down.body) is None
            if fmt == "svg":
                assert not thumbs_up_svg(down.body)
            else:
                assert blue_pixels(down.body) == 0
            assert b"stale-while-revalidate" not in dict(down.headers)[b"cache-control"]

        flaky.down = False
        service.entries.mark_fresh()
        back = await service.get(shop.id, "svg", BadgeQuery("en"), ON_SHOP)
        assert back.status == 200 and thumbs_up_svg(back.body)

    anyio.run(scenario)


def test_a_hanging_registry_does_not_hang_the_request(
    outage: tuple[BadgeService, FlakyRegistry, list[float], Shop], settings: Settings
) -> None:
    service, flaky, now, shop = outage
    hang = threading.Event()

    async def scenario() -> float:
        await service.get(shop.id, "svg", BadgeQuery("en"), ON_SHOP)
        flaky.hang = hang
        now[0] += settings.stale_limit + 1
        started = time.perf_counter()
        answer = await service.get(shop.id, "svg", BadgeQuery("en"), ON_SHOP)
        elapsed = time.perf_counter() - started
        hang.set()
        assert answer.status == 503
        return elapsed

    elapsed = anyio.run(scenario)
    print(f"\nhanging registry answered with 503 after {elapsed:.2f} s")
    assert elapsed < 3.0


def test_an_answer_from_a_replaced_entry_is_not_reused(
    outage: tuple[BadgeService, FlakyRegistry, list[float], Shop], settings: Settings
) -> None:
    """The hot path reuses an answer only while the entry it came from is the shop's entry
    and usable: a reload during a quiet change feed makes a new one, and the old one stays
    out even when the feed is back (it may describe an older state)."""
    service, _, now, shop = outage

    async def scenario() -> None:
        await service.get(shop.id, "svg", BadgeQuery("en"), ON_SHOP)
        first = service.entries.current(shop.id)
        assert service.entries.serves(shop.id, first, now[0])
        now[0] += settings.stale_limit + 1
        assert not service.entries.serves(shop.id, first, now[0])
        await service.get(shop.id, "svg", BadgeQuery("en"), ON_SHOP)
        second = service.entries.current(shop.id)
        assert second is not first
        service.entries.mark_fresh()
        assert service.entries.serves(shop.id, second, now[0])
        assert not service.entries.serves(shop.id, first, now[0])
        assert not service.entries.serves(shop.id, None, now[0])

    anyio.run(scenario)


def test_the_hot_paths_kept_answers_are_bounded(
    shops: dict[str, Shop], client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from badge.serving import hotpath, warm

    monkeypatch.setattr(warm, "MAX_WARM", 8)
    hot = cast(Any, client.app).middleware_stack
    assert isinstance(hot, hotpath.BadgeHotPath)
    ident = shops["certified"].id
    for number in range(30):
        query = f"d=shop{number}.example"
        first = client.get(f"/b/{ident}.svg?{query}")
        # Seen once: answered, not kept, so a flood of one-off hosts evicts nothing.
        assert query.encode() not in {key[1] for key in hot._warm}
        again = client.get(f"/b/{ident}.svg?{query}")
        assert query.encode() in {key[1] for key in hot._warm}
        assert again.content == first.content
        assert len(hot._warm) <= 8
    # A request that is not kept for good (an over-long Referer) is answered, not kept.
    hot._warm.clear()
    client.get(f"/b/{ident}.svg", headers={"referer": "https://" + "a" * 300 + ".be/"})
    assert len(hot._warm) == 0


def test_a_bug_while_loading_is_logged_and_counted_not_taken_for_an_outage(
    settings: Settings,
    registry: SQLiteRegistry,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    shop = add_shop(registry, domains=(ON_SHOP,))
    outage_service, bug_service = outage_and_bug(settings, registry, tmp_path / "bug-keys")
    with caplog.at_level("DEBUG", logger="badge"):
        outage = anyio.run(outage_service.get, shop.id, "svg", BadgeQuery("en"), ON_SHOP)
        assert outage.status == 503
        assert outage_service.stats().internal_errors == 0
        assert not tracebacks(caplog)  # the change feed reports outages
        answer = anyio.run(bug_service.get, shop.id, "svg", BadgeQuery("en"), ON_SHOP)
    # The page still gets the neutral badge, but the bug is on record, with its traceback.
    assert answer.status == 503 and answer.body == outage.body
    assert bug_service.stats().internal_errors == 1
    (record,) = tracebacks(caplog)
    assert record.levelname == "ERROR" and shop.id in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is KeyError
    metrics = Metrics(HotPathStats(), bug_service).render()[0].decode()
    assert "badge_internal_errors_total 1.0" in metrics
    assert (
        "badge_internal_errors_total 0.0"
        in Metrics(HotPathStats(), outage_service).render()[0].decode()
    )
