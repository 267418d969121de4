"""The public JSON API and badge checks (JSON and HTML form), against the real app in process."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import idna
import pytest
from starlette.testclient import TestClient

from badge.registry.model import Shop
from badge.registry.sqlite import SQLiteRegistry
from badge.verify.check import MAX_TOKEN_CHARS, MAX_UPLOAD_BYTES, extract_token
from badge.web.patterns import JWS_PATTERN
from tests.conftest import add_shop

VERDICT_KEYS = {"genuine", "shop_id", "expired", "certified_now", "reason"}
FAST = 1.0  # seconds; hostile files are refused in milliseconds, this only catches a hang

XXE_SVG = b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>"""

LAUGHS_SVG = (
    b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8)
    )
    + b']><svg xmlns="http://www.w3.org/2000/svg"><text>&i;</text></svg>'
)


def use_bomb() -> bytes:
    """About 1 KB that a renderer would expand to 9^6 (half a million) shapes; we never render."""
    parts = ['<svg xmlns="http://www.w3.org/2000/svg"><defs><path id="a" d="M0 0h1v1z"/>']
    for level in range(1, 7):
        uses = f'<use href="#{chr(96 + level)}"/>' * 9
        parts.append(f'<g id="{chr(97 + level)}">{uses}</g>')
    parts.append('</defs><use href="#g"/></svg>')
    return "".join(parts).encode()


def flip(token: str, index: int) -> str:
    """The token with one base64url character changed."""
    char = token[index]
    return token[:index] + ("B" if char != "B" else "C") + token[index + 1 :]


def wait_until(check: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the change feed did not deliver in time"
        time.sleep(0.05)


def post_file(client: TestClient, body: bytes, content_type: str) -> tuple[int, dict[str, object]]:
    response = client.post("/api/v1/verify", content=body, headers={"content-type": content_type})
    data = response.json()
    assert set(data) >= VERDICT_KEYS
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "no-store"
    return response.status_code, data


ON_SHOP_SITE = {"referer": "https://bakkerij-test.be/"}


@pytest.fixture
def svg(client: TestClient, shop: Shop) -> bytes:
    # As a browser on the shop's own website receives it.
    response = client.get(f"/b/{shop.id}.svg", headers=ON_SHOP_SITE)
    assert response.status_code == 200
    return response.content


@pytest.fixture
def png(client: TestClient, shop: Shop) -> bytes:
    response = client.get(f"/b/{shop.id}.png?scale=2", headers=ON_SHOP_SITE)
    assert response.status_code == 200
    return response.content


def test_shop_json(client: TestClient, shop: Shop) -> None:
    response = client.get(f"/api/v1/shops/{shop.id}")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "public, max-age=60"
    assert "set-cookie" not in response.headers
    data = response.json()
    assert data["id"] == shop.id
    assert data["display_name"] == shop.display_name
    assert data["legal_name"] == shop.legal_name
    assert data["enterprise_number"] == shop.enterprise_number
    assert data["domains"] == list(shop.domains)
    assert data["categories"] == [
        {"id": "b2c_member", "colour": "#2b9348"},
        {"id": "sponsor", "colour": "#ee8a00"},
    ]
    assert data["state"] == "certified"
    assert data["certified_now"] is True
    assert data["valid_until"] == str(shop.valid_until)
    assert data["last_audit"] == str(shop.last_audit)
    assert data["state_since"].startswith(shop.state_since.date().isoformat())
    assert data["verify_url"] == f"http://testserver/v/{shop.id}"
    assert data["badge"] == {
        "svg": f"http://testserver/b/{shop.id}.svg",
        "png": f"http://testserver/b/{shop.id}.png",
    }
    # Internal bookkeeping stays internal.
    assert not {"stored_state", "created_at", "updated_at"} & set(data)


def test_shop_json_for_an_expired_shop(client: TestClient, registry: SQLiteRegistry) -> None:
    shop = add_shop(registry, valid_days=-2)
    data = client.get(f"/api/v1/shops/{shop.id}").json()
    assert data["state"] == "expired"
    assert data["certified_now"] is False
    assert shop.valid_until is not None
    assert data["state_since"].startswith((shop.valid_until + timedelta(days=1)).isoformat())


@pytest.mark.parametrize(
    "shop_id",
    [
        pytest.param("aaaaaaaaaaaaaaaa", id="unknown"),
        pytest.param("short", id="malformed"),
        pytest.param("a" * 3000, id="huge"),
    ],
)
def test_shop_json_unknown(client: TestClient, shop_id: str) -> None:
    response = client.get(f"/api/v1/shops/{shop_id}")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert response.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    "domain",
    [
        pytest.param("bakkerij-test.be", id="plain"),
        pytest.param("https://WWW.Bakkerij-Test.BE/some/path?q=1", id="url-www-case"),
        pytest.param("bakkerij-test.be.", id="trailing-dot"),
        pytest.param("http://bakkerij-test.be:8443/", id="port"),
    ],
)
def test_lookup_json_finds_the_shop(client: TestClient, shop: Shop, domain: str) -> None:
    response = client.get("/api/v1/lookup", params={"domain": domain})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cache-control"] == "public, max-age=60"
    data = response.json()
    assert data["found"] is True
    assert data["domain"] == "bakkerij-test.be"
    assert data["id"] == shop.id
    assert data["certified_now"] is True


def test_lookup_json_idn(client: TestClient, registry: SQLiteRegistry) -> None:
    shop = add_shop(registry, name="Bäckerei", domains=("bäckerei.be",))
    for form in ("BÄCKEREI.be", idna.encode("bäckerei.be", uts46=True).decode()):
        data = client.get("/api/v1/lookup", params={"domain": form}).json()
        assert data["id"] == shop.id, form


def test_lookup_json_unregistered(client: TestClient, shop: Shop) -> None:
    response = client.get("/api/v1/lookup", params={"domain": "fake-shop.example"})
    assert response.status_code == 404
    assert response.headers["access-control-allow-origin"] == "*"
    data = response.json()
    assert data["found"] is False
    assert data["certified_now"] is False
    assert data["domain"] == "fake-shop.example"


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("", id="missing"),
        pytest.param("?domain=", id="empty"),
        pytest.param("?domain=not%20a%20domain", id="spaces"),
        pytest.param("?domain=10.0.0.1", id="ip"),
        pytest.param("?domain=" + "a" * 5000, id="huge"),
    ],
)
def test_lookup_json_bad_request(client: TestClient, query: str) -> None:
    response = client.get(f"/api/v1/lookup{query}")
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
    assert response.headers["access-control-allow-origin"] == "*"


def test_verify_served_svg(client: TestClient, shop: Shop, svg: bytes) -> None:
    status, data = post_file(client, svg, "image/svg+xml")
    assert status == 200
    assert data["genuine"] is True
    assert data["certified_now"] is True
    assert data["expired"] is False
    assert data["shop_id"] == shop.id
    assert data["shop_name"] == shop.display_name
    assert data["domains"] == list(shop.domains)
    assert data["state_then"] == "certified"
    assert data["state_now"] == "certified"


def test_verify_served_png(client: TestClient, shop: Shop, png: bytes) -> None:
    status, data = post_file(client, png, "image/png")
    assert status == 200
    assert data["genuine"] is True
    assert data["certified_now"] is True
    assert data["shop_id"] == shop.id


def test_verify_token_as_json(client: TestClient, shop: Shop, svg: bytes) -> None:
    response = client.post("/api/v1/verify", json={"token": extract_token(svg)})
    assert response.status_code == 200
    assert response.json()["genuine"] is True


@pytest.mark.parametrize(
    ("around", "status"),
    [(("", ""), 200), ((" ", "\n"), 200), (("\r\n\t", "  "), 200), (("\x0b", ""), 422),
     (("\u00a0", ""), 422), (("", "\x1c"), 422)],
)  # fmt: skip
def test_a_token_is_taken_with_the_blanks_a_paste_brings_and_no_others(
    client: TestClient, svg: bytes, around: tuple[str, str], status: int
) -> None:
    """What the API document's pattern allows around a token: spaces, tabs, line ends."""
    token = around[0] + extract_token(svg) + around[1]
    assert (re.fullmatch(JWS_PATTERN, token) is not None) == (status == 200)
    by_json = client.post("/api/v1/verify", json={"token": token})
    assert by_json.status_code == status
    by_form = client.post("/api/v1/verify", data={"token": token})
    assert by_form.status_code == status


def test_a_token_over_the_bound_counts_its_blanks(client: TestClient, svg: bytes) -> None:
    token = extract_token(svg)
    padded = token + " " * (MAX_TOKEN_CHARS - len(token) + 1)
    assert client.post("/api/v1/verify", json={"token": padded}).status_code == 422
    assert client.post("/api/v1/verify", json={"token": padded[:-1]}).status_code == 200


def test_a_malformed_token_beside_a_file_is_refused(client: TestClient, svg: bytes) -> None:
    """The form checks the file when one is chosen; a token field that is not blank must
    still be a token, as the document says."""
    files = {"file": ("badge.svg", svg, "image/svg+xml")}
    for path in ("/api/v1/verify", "/verify?lang=en"):
        assert client.post(path, files=files, data={"token": "not a token"}).status_code == 422
        assert client.post(path, files=files, data={"token": " \r\n"}).status_code == 200


@pytest.mark.parametrize(
    ("lang", "heading", "says"),
    [
        ("en", "The pasted signature could not be checked", "is not a Keurmerk signature"),
        (
            "nl",
            "De geplakte handtekening kon niet worden gecontroleerd",
            "geen Keurmerk-handtekening",
        ),
        ("fr", "La signature collée n’a pas pu être vérifiée", "n’est pas une signature du label"),
        ("de", "Die eingefügte Signatur konnte nicht geprüft werden", "keine Gütesiegel-Signatur"),
    ],
)
def test_the_page_says_when_the_pasted_text_is_what_failed(
    client: TestClient, svg: bytes, lang: str, heading: str, says: str
) -> None:
    """Beside a good file or alone, a malformed paste is named as the problem, not the file."""
    files = {"file": ("badge.svg", svg, "image/svg+xml")}
    for sent in ({"files": files}, {}):
        response = client.post(f"/verify?lang={lang}", data={"token": "not a token"}, **sent)
        assert response.status_code == 422
        assert heading in response.text and says in response.text
    garbled = client.post(
        f"/verify?lang={lang}", files={"file": ("b.svg", b"<svg/>", "image/svg+xml")}
    )
    assert garbled.status_code == 422 and heading not in garbled.text


def test_verify_after_revocation(
    client: TestClient, registry: SQLiteRegistry, shop: Shop, svg: bytes, png: bytes
) -> None:
    registry.set_state(shop.id, "revoked", reason="test", actor="test")
    wait_until(lambda: post_file(client, svg, "image/svg+xml")[1]["certified_now"] is False)
    for body, kind in ((svg, "image/svg+xml"), (png, "image/png")):
        status, data = post_file(client, body, kind)
        assert status == 200
        assert data["genuine"] is True
        assert data["certified_now"] is False
        assert data["state_then"] == "certified"
        assert data["state_now"] == "revoked"
        assert "NOT certified now" in str(data["reason"])


@pytest.mark.parametrize(
    "part",
    [
        pytest.param(0, id="header"),
        pytest.param(1, id="payload"),
        pytest.param(2, id="signature"),
    ],
)
def test_one_changed_character_is_not_genuine(client: TestClient, svg: bytes, part: int) -> None:
    token = extract_token(svg)
    starts = [0, token.index(".") + 1, token.rindex(".") + 1]
    tampered = flip(token, starts[part] + 10)
    response = client.post("/api/v1/verify", json={"token": tampered})
    assert response.status_code == 200
    data = response.json()
    assert data["genuine"] is False
    assert data["certified_now"] is False


def test_one_changed_byte_in_a_served_svg(client: TestClient, svg: bytes) -> None:
    token = extract_token(svg)
    tampered_token = flip(token, token.index(".") + 5)
    tampered = svg.replace(token.encode(), tampered_token.encode())
    assert len(tampered) == len(svg) and tampered != svg
    status, data = post_file(client, tampered, "image/svg+xml")
    assert status == 200
    assert data["genuine"] is False


def test_token_from_another_issuer(client: TestClient, shop: Shop) -> None:
    keys = client.app_state["keys"]
    now = int(time.time())
    claims = {"iss": "https://evil.example", "sub": shop.id, "iat": now, "exp": now + 60}
    data = client.post("/api/v1/verify", json={"token": keys.sign(claims)}).json()
    assert data["genuine"] is False
    # Signed with our key: explained as configuration, naming the setting; the shop's live
    # state is labelled as news about the shop, not as a property of this badge.
    assert "configuration difference" in data["reason"]
    assert "BADGE_PUBLIC_URL" in data["reason"]
    assert (
        "live register, about the shop id, not this badge: the shop is certified now"
        in (data["reason"])
    )


def test_expired_signature_is_still_genuine(client: TestClient, shop: Shop) -> None:
    keys = client.app_state["keys"]
    then = int(time.time()) - 3 * 86_400
    claims = {
        "iss": "http://testserver",
        "sub": shop.id,
        "name": shop.display_name,
        "domains": list(shop.domains),
        "state": "certified",
        "iat": then,
        "exp": then + 86_400,
    }
    data = client.post("/api/v1/verify", json={"token": keys.sign(claims)}).json()
    assert data["genuine"] is True
    assert data["expired"] is True
    assert data["certified_now"] is True


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        pytest.param(XXE_SVG, "image/svg+xml", 422, id="xxe"),
        pytest.param(LAUGHS_SVG, "image/svg+xml", 422, id="billion-laughs"),
        pytest.param(use_bomb(), "image/svg+xml", 422, id="use-bomb"),
        pytest.param(
            b'<svg xmlns="http://www.w3.org/2000/svg"><g>', "image/svg+xml", 422, id="truncated-svg"
        ),
        pytest.param(b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "image/png", 422, id="broken-png"),
        pytest.param(b"GIF89a......", "image/gif", 415, id="gif"),
        pytest.param(b"", "image/png", 415, id="empty"),
        pytest.param(b"<html><body>hi</body></html>", "text/html", 415, id="html"),
        pytest.param(b"{not json", "application/json", 400, id="bad-json"),
        pytest.param(b'{"token": 5}', "application/json", 400, id="token-not-string"),
        pytest.param(b"[" * 100_000, "application/json", 400, id="deep-json"),
        pytest.param(b'{"token": "hello"}', "application/json", 422, id="not-a-jws"),
        pytest.param(b"x" * (MAX_UPLOAD_BYTES + 1), "image/png", 413, id="too-large"),
    ],
)
def test_hostile_or_wrong_uploads(
    client: TestClient, body: bytes, content_type: str, status: int
) -> None:
    started = time.monotonic()
    got, data = post_file(client, body, content_type)
    assert time.monotonic() - started < FAST
    assert got == status
    assert data["genuine"] is False
    assert data["certified_now"] is False
    assert data["shop_id"] is None
    assert isinstance(data["reason"], str) and data["reason"]
    assert "root:" not in json.dumps(data)
    assert client.get("/healthz").status_code == 200


def test_streamed_upload_stops_at_the_limit(client: TestClient) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(64):
            sent += 64 * 1024
            yield b"\0" * (64 * 1024)

    # No Content-Length: the server must count while it reads.
    response = client.post(
        "/api/v1/verify", content=chunks(), headers={"content-type": "image/png"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert client.get("/healthz").status_code == 200


def test_declared_length_over_the_limit_is_refused_unread(client: TestClient) -> None:
    response = client.post(
        "/api/v1/verify",
        content=b"x" * (MAX_UPLOAD_BYTES + 10),
        headers={"content-type": "image/svg+xml"},
    )
    assert response.status_code == 413


def test_preflight_for_browser_extensions(client: TestClient) -> None:
    response = client.options(
        "/api/v1/verify",
        headers={
            "origin": "chrome-extension://abc",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]


def test_form_check_of_a_served_svg(client: TestClient, shop: Shop, svg: bytes) -> None:
    response = client.post("/verify?lang=en", files={"file": ("badge.svg", svg, "image/svg+xml")})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert "content-security-policy" in response.headers
    html = response.text
    assert "Genuine badge of a certified webshop" in html
    assert f'href="/v/{shop.id}?lang=en"' in html
    assert "bakkerij-test.be" in html


def test_form_check_of_a_served_png_in_french(client: TestClient, png: bytes) -> None:
    response = client.post("/verify?lang=fr", files={"file": ("b.png", png, "image/png")})
    assert response.status_code == 200
    assert "Badge authentique d’une boutique certifiée" in response.text


def test_form_check_of_a_pasted_token(
    client: TestClient, registry: SQLiteRegistry, shop: Shop, svg: bytes
) -> None:
    token = extract_token(svg)
    registry.set_state(shop.id, "suspended", reason="test", actor="test")
    wait_until(
        lambda: "not certified now" in client.post("/verify?lang=en", data={"token": token}).text
    )
    html = client.post("/verify?lang=en", data={"token": token}).text
    assert "Genuine badge, but the shop is not certified now" in html
    assert "pill-suspended" in html


def test_form_check_of_a_forged_token(client: TestClient, svg: bytes) -> None:
    token = flip(extract_token(svg), 30)
    response = client.post(
        "/verify?lang=nl",
        files={"file": ("", b"", "application/octet-stream")},
        data={"token": token},
    )
    assert response.status_code == 200
    assert "Geen echte Keurmerk-badge" in response.text


@pytest.mark.parametrize(
    ("files", "data", "status", "words"),
    [
        pytest.param(
            {"file": ("x.svg", XXE_SVG, "image/svg+xml")}, {}, 422, "no readable", id="xxe"
        ),
        pytest.param(
            {"file": ("b.svg", use_bomb(), "image/svg+xml")}, {}, 422, "no readable", id="use-bomb"
        ),
        pytest.param(
            {"file": ("x.gif", b"GIF89a", "image/gif")}, {}, 415, "Only SVG and PNG", id="gif"
        ),
        pytest.param(None, {"token": ""}, 400, "Choose a badge file", id="empty-form"),
        pytest.param(
            {"file": ("big.png", b"\0" * (MAX_UPLOAD_BYTES + 70_000), "image/png")},
            {},
            413,
            "too large",
            id="too-large",
        ),
    ],
)
def test_form_refusals_are_pages(
    client: TestClient,
    files: dict[str, tuple[str, bytes, str]] | None,
    data: dict[str, str],
    status: int,
    words: str,
) -> None:
    started = time.monotonic()
    response = client.post("/verify?lang=en", files=files, data=data)
    assert time.monotonic() - started < FAST
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert "content-security-policy" in response.headers
    assert words in response.text
    assert "This file could not be checked" in response.text
    assert client.get("/healthz").status_code == 200


def test_form_with_too_many_parts_is_refused(client: TestClient) -> None:
    data = {f"field{i}": "x" for i in range(20)}
    response = client.post("/verify?lang=en", files={"file": ("a", b"a", "image/png")}, data=data)
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["/verify?lang=en", "/api/v1/verify"])
@pytest.mark.parametrize("name", ["", "note", "<b>x</b>"])
def test_a_form_field_outside_the_contract_is_refused(
    client: TestClient, svg: bytes, path: str, name: str
) -> None:
    """The documented form is `file` or `token`; a genuine badge beside another field
    is still a client's mistake, named in the answer (escaped on the page)."""
    files = {"file": ("badge.svg", svg, "image/svg+xml")}
    response = client.post(path, files=files, data={name: '{"x": 1}'})
    assert response.status_code == 400
    body = response.text
    assert "does not read" in body
    assert "<b>" not in body
    assert ("(note)" in body) == (name == "note")
    if path.startswith("/api/"):
        assert response.json()["genuine"] is False
    assert client.post(path, files=files).status_code == 200


def test_use_bomb_is_the_small_kind() -> None:
    bomb = use_bomb()
    assert 900 <= len(bomb) <= 1100
    assert bomb.count(b"<use") == 6 * 9 + 1


def test_verify_json_answers_never_carry_html(client: TestClient) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    status, data = post_file(client, svg, "image/svg+xml")
    assert status == 422
    assert not re.search(r"<script", json.dumps(data))


def test_api_takes_the_multipart_form_too(client: TestClient, shop: Shop, svg: bytes) -> None:
    """The same form as POST /verify: a `file` field, or a `token` field."""
    by_file = client.post(
        "/api/v1/verify", files={"file": ("saved-badge.svg", svg, "image/svg+xml")}
    )
    assert by_file.status_code == 200
    assert by_file.headers["cache-control"] == "no-store"
    data = by_file.json()
    assert set(data) >= VERDICT_KEYS
    assert (data["genuine"], data["shop_id"], data["certified_now"]) == (True, shop.id, True)

    by_token = client.post("/api/v1/verify", data={"token": extract_token(svg)})
    assert by_token.status_code == 200
    assert by_token.json()["shop_id"] == shop.id

    empty = client.post("/api/v1/verify", files={"other": ("x.txt", b"x", "text/plain")})
    assert empty.status_code == 400
    assert empty.json()["genuine"] is False
    assert empty.json()["error"]

    junk = client.post("/api/v1/verify", files={"file": ("x.svg", b"<svg/>", "image/svg+xml")})
    assert junk.status_code == 422
    assert junk.json()["genuine"] is False


def test_api_form_upload_is_bounded(client: TestClient) -> None:
    huge = b"<svg>" + b" " * (MAX_UPLOAD_BYTES + 128 * 1024) + b"</svg>"
    response = client.post("/api/v1/verify", files={"file": ("big.svg", huge, "image/svg+xml")})
    assert response.status_code == 413
    assert response.json()["genuine"] is False
