"""Shop names and domains as people read them: NFC, no bidi tricks or invisible characters,
isolated on pages, and look-alike domains shown with their punycode."""

from __future__ import annotations

import hashlib
import re

import idna
import pytest
from starlette.testclient import TestClient

from badge.errors import ValidationError
from badge.registry import rules
from badge.registry.sqlite import SQLiteRegistry
from tests.conftest import add_shop

TOKEN = "bkt_user-text-token-0123456789abcdefghijklmnopqr"


def test_names_are_nfc() -> None:
    decomposed = "Cafe\u0301 Ame\u0301lie"
    assert rules.clean_text(decomposed, "name") == "Café Amélie"
    shop = rules.validate_new_shop(
        display_name=decomposed,
        legal_name="Cafe\u0301 BV",
        enterprise_number="0123.456.749",
        domains=("cafe.be",),
        today=rules.MIN_DATE,
    )
    assert shop.display_name == "Café Amélie"
    assert shop.legal_name == "Café BV"


@pytest.mark.parametrize(
    ("name", "says"),
    [
        pytest.param("Shop\u202egnp.exe", "bidi control U+202E", id="rlo"),
        pytest.param("\u2067Shop\u2069", "bidi control U+2067", id="rli"),
        pytest.param("Shop\u200f", "bidi control U+200F", id="rlm"),
        pytest.param("Sh\u200bop", "invisible character U+200B", id="zwsp"),
        pytest.param("Sh\u200dop", "invisible character U+200D", id="zwj"),
        pytest.param("Sh\u2060op", "invisible character U+2060", id="word-joiner"),
        pytest.param("\ufeffShop", "invisible character U+FEFF", id="bom"),
        pytest.param("Sh\u00adop", "invisible character U+00AD", id="soft-hyphen"),
    ],
)
def test_bidi_controls_and_invisible_characters_are_refused(name: str, says: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(says)):
        rules.clean_text(name, "name")


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("shop.be\r\nevil", id="crlf"),
        pytest.param("shop.be\nevil", id="lf"),
        pytest.param("sh\top.be", id="tab"),
        pytest.param("shop.be\t", id="trailing-tab"),
        pytest.param("sh\u200bop.be", id="zero-width"),
        pytest.param("sh\u00adop.be", id="soft-hyphen"),
        pytest.param("shop\u00a0.be", id="nbsp"),
        pytest.param("shop.be\x00", id="nul"),
    ],
)
def test_domains_with_controls_or_spaces_are_refused_not_stripped(raw: str) -> None:
    with pytest.raises(ValidationError, match="space, control or invisible"):
        rules.normalise_domain(raw)
    assert rules.try_normalise_domain(raw) is None


def test_surrounding_spaces_are_still_trimmed() -> None:
    assert rules.normalise_domain("  shop.be ") == "shop.be"


@pytest.mark.parametrize(
    ("domain", "suspicious"),
    [
        pytest.param("shop.be", False, id="ascii"),
        pytest.param("bücher.be", False, id="latin-idn"),
        pytest.param("пример.рф", False, id="cyrillic-word"),
        pytest.param("ѕhop.be", True, id="cyrillic-lookalike-of-latin"),
        pytest.param("bаkkerij.be", True, id="mixed-latin-cyrillic"),
        pytest.param("раураl.be", True, id="whole-cyrillic-paypal"),
    ],
)
def test_shown_domain_adds_punycode_to_lookalikes(domain: str, suspicious: bool) -> None:
    stored = rules.normalise_domain(domain)
    shown = rules.shown_domain(stored)
    if suspicious:
        assert shown == f"{domain} ({stored})"
    else:
        assert shown == domain


def test_admin_api_refuses_with_the_reason(registry: SQLiteRegistry, client: TestClient) -> None:
    registry.add_token("crm", hashlib.sha256(TOKEN.encode()).hexdigest())
    body = {
        "name": "Shop\u202e",
        "legal_name": "Shop BV",
        "enterprise_number": "0123.456.749",
        "domains": ["shop.be"],
    }
    headers = {"authorization": f"Bearer {TOKEN}"}
    response = client.post("/admin/api/v1/shops", json=body, headers=headers)
    assert response.status_code == 400
    assert "bidi control U+202E" in response.json()["message"]
    body.update(name="Shop", domains=["shop.be\r\nevil"])
    response = client.post("/admin/api/v1/shops", json=body, headers=headers)
    assert response.status_code == 400
    assert "U+000D" in response.json()["message"]


def test_pages_isolate_user_text(registry: SQLiteRegistry, client: TestClient) -> None:
    shop = add_shop(registry, name="متجر الهدايا", domains=("hadaya.be",))
    html = client.get(f"/v/{shop.id}?lang=en").text
    assert '<h1 translate="no" dir="auto">متجر الهدايا</h1>' in html
    assert "<bdi>متجر الهدايا</bdi> holds the BeCommerce Keurmerk" in html
    assert "<li><bdi>hadaya.be</bdi></li>" in html
    found = client.get("/verify?lang=en&q=hadaya").text
    assert "<bdi>متجر الهدايا</bdi>" in found


def test_pages_show_a_lookalike_domain_with_its_punycode(
    registry: SQLiteRegistry, client: TestClient
) -> None:
    shop = add_shop(registry, domains=("ѕhop.be",))
    ascii_host = idna.encode("ѕhop.be", uts46=True).decode()
    html = client.get(f"/v/{shop.id}?lang=en").text
    assert f"<li><bdi>ѕhop.be ({ascii_host})</bdi></li>" in html
    lookup = client.get(f"/verify?lang=en&domain={ascii_host}").text
    assert f"ѕhop.be ({ascii_host})" in lookup


def test_admin_api_refuses_a_lookalike_domain_with_409(
    registry: SQLiteRegistry, client: TestClient
) -> None:
    first = add_shop(registry, domains=("shop.be",))
    registry.add_token("crm", hashlib.sha256(TOKEN.encode()).hexdigest())
    body = {
        "name": "Copycat",
        "legal_name": "Copycat BV",
        "enterprise_number": "0123.456.749",
        "domains": ["ѕhop.be"],
    }
    headers = {"authorization": f"Bearer {TOKEN}"}
    response = client.post("/admin/api/v1/shops", json=body, headers=headers)
    assert response.status_code == 409
    message = response.json()["message"]
    assert f"looks like shop.be, registered to shop {first.id}" in message
    assert "xn--hop-ehd.be" in message
