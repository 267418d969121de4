"""badge.web.home: the home page at `/` in four languages, and /favicon.ico."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from starlette.testclient import TestClient

from badge.vocabulary import LANGS, Lang

HEADLINES: dict[Lang, str] = {
    "nl": "Is deze webshop echt gecertificeerd?",
    "fr": "Cette boutique est-elle vraiment certifiée\u00a0?",
    "de": "Ist dieser Onlineshop wirklich zertifiziert?",
    "en": "Is this webshop really certified?",
}


@pytest.mark.parametrize("lang", LANGS)
def test_home_page_in_each_language(client: TestClient, lang: Lang) -> None:
    response = client.get(f"/?lang={lang}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-language"] == lang
    assert "Accept-Language" in response.headers["vary"]
    assert "set-cookie" not in response.headers
    assert "default-src 'none'" in response.headers["content-security-policy"]
    html = response.text
    assert f'<html lang="{lang}"' in html
    assert HEADLINES[lang] in html
    # What the page is for: look up, check a badge, embed, and where the APIs are.
    assert 'action="/verify"' in html and 'name="domain"' in html
    assert f'href="/verify?lang={lang}#check"' in html
    assert "http://testserver/embed.js" in html
    assert 'href="/openapi.json"' in html
    assert "/admin/api/v1/" in html
    for other in LANGS:
        assert f'href="/?lang={other}"' in html
    assert re.search(r'<link rel="icon" href="/static/favicon\.[0-9a-f]{12}\.ico"', html)


def test_home_page_follows_accept_language(client: TestClient) -> None:
    response = client.get("/", headers={"accept-language": "fr-BE,fr;q=0.9,en;q=0.5"})
    assert response.headers["content-language"] == "fr"
    assert HEADLINES["fr"] in response.text
    assert HEADLINES["nl"] in client.get("/").text


def test_home_page_escapes_the_embed_snippet(client: TestClient) -> None:
    html = client.get("/?lang=en").text
    assert "&lt;script\n  src=&#34;http://testserver/embed.js&#34;\n  data-shop=" in html
    assert '<script src="http://testserver/embed.js"' not in html
    assert "<script" not in html


def test_favicon_ico(client: TestClient) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/vnd.microsoft.icon"
    assert "max-age" in response.headers["cache-control"]
    with Image.open(io.BytesIO(response.content)) as icon:
        assert icon.format == "ICO"
        assert (32, 32) in icon.info["sizes"]
    assert client.head("/favicon.ico").status_code == 200
