"""Embedding: the /embed.js loader and the /embed/{id} code page, in process."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import escape
from starlette.testclient import TestClient

from badge.app import create_app
from badge.registry.model import Shop
from badge.registry.sqlite import SQLiteRegistry
from badge.settings import Secret, Settings
from badge.vocabulary import SIZES
from badge.web.embed import build_loader, origin, snippets
from tests.conftest import add_shop

HOSTILE = 'Bakkerij <script>alert("x")</script> & "Zoon"'


class TestLoader:
    def test_headers_and_size(self, client: TestClient) -> None:
        response = client.get("/embed.js")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/javascript; charset=utf-8"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cross-origin-resource-policy"] == "cross-origin"
        assert response.headers["cache-control"] == "public, max-age=3600"
        assert "set-cookie" not in response.headers
        assert len(response.content) < 2048
        assert re.fullmatch(r'"[0-9a-f]{32}(-gzip|-br)?"', response.headers["etag"])

    def test_not_modified(self, client: TestClient) -> None:
        etag = client.get("/embed.js").headers["etag"]
        for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
            response = client.get("/embed.js", headers={"if-none-match": header})
            assert response.status_code == 304
            assert response.content == b""
            assert response.headers["etag"] == etag
            assert response.headers["cache-control"] == "public, max-age=3600"
        assert client.get("/embed.js", headers={"if-none-match": '"x"'}).status_code == 200
        assert client.head("/embed.js").status_code == 200

    def test_public_url_and_sizes_are_baked_in(self, tmp_path: Path) -> None:
        settings = Settings(
            database_url=Secret(f"sqlite:///{tmp_path / 'b.db'}"),
            keys_dir=tmp_path / "keys",
            public_url="https://keurmerk.becommerce.example",
        )
        with TestClient(create_app(settings)) as client:
            text = client.get("/embed.js").text
        assert 'B="https://keurmerk.becommerce.example"' in text
        for width, height in SIZES.values():
            assert f"[{width},{height}]" in text

    def test_safe_under_a_strict_csp(self) -> None:
        script = build_loader("https://badge.example").decode()
        for forbidden in (
            "eval(",
            "Function(",
            "innerHTML",
            "document.write",
            'setAttribute("style',
            ".cookie",
            "localStorage",
            'setTimeout("',
        ):
            assert forbidden not in script
        assert script.isascii()
        # The shop id is checked against the id alphabet before it goes into any URL.
        assert "I=/^[a-kmnp-z2-9]{16}$/" in script

    def test_public_url_is_a_json_literal(self) -> None:
        script = build_loader('https://badge.example/"+alert(1)+"').decode()
        assert 'B="https://badge.example/\\"+alert(1)+\\""' in script


def parse_first(snippet: str, tag: str) -> dict[str, str | None]:
    found: list[dict[str, str | None]] = []

    class Parser(HTMLParser):
        def handle_starttag(self, name: str, attrs: list[tuple[str, str | None]]) -> None:
            if name == tag and not found:
                found.append(dict(attrs))

    Parser().feed(snippet)
    assert found, snippet
    return found[0]


class TestSnippets:
    def test_image_embed_decodes_to_the_right_attributes(self, registry: SQLiteRegistry) -> None:
        shop = add_shop(registry, name=HOSTILE)
        code = snippets(shop, "https://badge.example", "fr", "l")
        link = parse_first(code["image"], "a")
        img = parse_first(code["image"], "img")
        assert link["href"] == f"https://badge.example/v/{shop.id}?lang=fr"
        assert img["src"] == f"https://badge.example/b/{shop.id}.svg?lang=fr&size=l"
        assert (img["width"], img["height"]) == ("280", "80")
        assert img["alt"] is not None and HOSTILE in img["alt"]
        # The browser must tell us the showing site even where the page hides its referrer.
        assert img["referrerpolicy"] == "origin"
        assert "<script>" not in code["image"]

    def test_script_embed(self, shop: Shop) -> None:
        code = snippets(shop, "https://badge.example", "de", "s")
        script = parse_first(code["script"], "script")
        assert script == {
            "src": "https://badge.example/embed.js",
            "data-shop": shop.id,
            "data-lang": "de",
            "data-size": "s",
            "async": None,
        }
        # The box before the script keeps the badge's place until the script runs.
        box = parse_first(code["script"], "a")
        assert box == {"href": f"https://badge.example/v/{shop.id}?lang=de", "data-kb-box": None}
        placeholder = parse_first(code["script"], "svg")
        assert (placeholder["width"], placeholder["height"]) == ("160", "40")
        assert "style" not in code["script"]

    def test_origin(self) -> None:
        assert origin("https://badge.example:8443/keurmerk") == "https://badge.example:8443"


class TestPage:
    def test_both_snippets_escaped(self, client: TestClient, registry: SQLiteRegistry) -> None:
        shop = add_shop(registry, name=HOSTILE)
        response = client.get(f"/embed/{shop.id}?lang=en&size=l")
        assert response.status_code == 200
        page = response.text
        assert "<script" not in page
        assert HOSTILE not in page
        code = snippets(shop, "http://testserver", "en", "l")
        # Each snippet appears once as text in a <pre><code> block: escaped for display.
        for key in ("image", "script"):
            assert f"<code>{escape(code[key])}</code>" in page
        assert 'width="280" height="80"' in page

    def test_security_headers_and_no_cookies(self, client: TestClient, shop: Shop) -> None:
        response = client.get(f"/embed/{shop.id}")
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "style-src 'self'" in csp
        assert "script-src" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "set-cookie" not in response.headers
        found = re.search(r'href="(/static/embed\.[0-9a-f]{12}\.css)"', response.text)
        assert found is not None
        css = client.get(found.group(1))
        assert css.status_code == 200
        assert css.headers["content-type"].startswith("text/css")

    @pytest.mark.parametrize(
        ("query", "headers", "lang", "size"),
        [
            pytest.param("", {}, "nl", "m", id="defaults"),
            pytest.param(
                "", {"accept-language": "de-BE,de;q=0.9"}, "de", "m", id="accept-language"
            ),
            pytest.param("?lang=fr&size=s", {"accept-language": "de"}, "fr", "s", id="query"),
            pytest.param("?size=xxl&lang=zz", {}, "nl", "m", id="odd-values-fall-back"),
        ],
    )
    def test_language_and_size(
        self,
        client: TestClient,
        shop: Shop,
        query: str,
        headers: dict[str, str],
        lang: str,
        size: str,
    ) -> None:
        response = client.get(f"/embed/{shop.id}{query}", headers=headers)
        assert response.status_code == 200
        assert response.headers["content-language"] == lang
        assert f'<html lang="{lang}">' in response.text
        width, height = SIZES[size]  # type: ignore[index]
        assert f'height="{height}"' in response.text
        assert f"data-lang=&#34;{lang}&#34; data-size=&#34;{size}&#34;" in response.text
        assert f'src="/b/{shop.id}.svg?lang={lang}&amp;size={size}" width="{width}"' in (
            response.text
        )

    def test_not_certified_shop_says_so(self, client: TestClient, registry: SQLiteRegistry) -> None:
        shop = add_shop(registry, state="suspended")
        page = client.get(f"/embed/{shop.id}?lang=en").text
        assert "not certified right now" in page

    @pytest.mark.parametrize("shop_id", ["aaaaaaaaaaaaaaaa", "nope", "%3Cb%3E", "x" * 500])
    def test_unknown_shop(self, client: TestClient, shop_id: str) -> None:
        response = client.get(f"/embed/{shop_id}")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "<b>" not in response.text
