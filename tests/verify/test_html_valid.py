"""Every page we serve parses as HTML5 without a single parse error (WHATWG rules)."""

from __future__ import annotations

import html5lib
import pytest
from starlette.testclient import TestClient

from badge.registry.sqlite import SQLiteRegistry
from badge.vocabulary import LANGS
from tests.conftest import add_shop


def parse_errors(markup: str) -> list[str]:
    parser = html5lib.HTMLParser(strict=False)
    parser.parse(markup)
    return [f"line {line}:{col} {code} {data}" for (line, col), code, data in parser.errors]


@pytest.fixture
def shop_ids(registry: SQLiteRegistry) -> dict[str, str]:
    certified = add_shop(registry, name='Café <b>"Ünïcode"</b> & Co', domains=("cafe-test.be",))
    suspended = add_shop(registry, name="Fietsen", domains=("fietsen-x.be",), state="suspended")
    expired = add_shop(registry, name="Boeken", domains=("boeken-x.be",), valid_days=-3)
    return {"certified": certified.id, "suspended": suspended.id, "expired": expired.id}


@pytest.mark.parametrize("lang", LANGS)
def test_pages_parse_without_errors(
    client: TestClient, shop_ids: dict[str, str], lang: str
) -> None:
    pages = {
        **{f"/v/{state}": f"/v/{ident}?lang={lang}" for state, ident in shop_ids.items()},
        "/v/unknown": f"/v/zzzzzzzzzzzzzzzz?lang={lang}",
        "/verify": f"/verify?lang={lang}",
        "/verify?domain": f"/verify?lang={lang}&domain=https://WWW.Cafe-Test.BE/x",
        "/verify?unregistered": f"/verify?lang={lang}&domain=nope.example",
        "/verify?q": f"/verify?lang={lang}&q=%3Cscript%3E",
        "/embed": f"/embed/{shop_ids['certified']}?lang={lang}",
        "/": f"/?lang={lang}",
    }
    for name, url in pages.items():
        response = client.get(url, headers={"referer": "https://copy<cat>.example/"})
        assert response.headers["content-type"].startswith("text/html"), name
        assert parse_errors(response.text) == [], name
        assert response.text[:15].lower() == "<!doctype html>", name
        assert f'<html lang="{lang}"' in response.text, name


def test_the_checker_catches_broken_markup() -> None:
    assert parse_errors("<!DOCTYPE html><html lang=en><p><div></span></div>")
    assert not parse_errors(
        "<!DOCTYPE html><html lang=en><head><title>t</title></head><body><p>x</p></body></html>"
    )
