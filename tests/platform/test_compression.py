"""badge.platform.compression: gzip and Brotli for pages, CSS, embed.js and JSON, in the real
app."""

from __future__ import annotations

import gzip
from typing import Any

import brotli
import pytest
from starlette.testclient import TestClient

from badge.registry.model import Shop

DECODE = {"gzip": gzip.decompress, "br": brotli.decompress}


def raw_get(client: TestClient, url: str, headers: dict[str, str]) -> tuple[Any, bytes]:
    """The response and its bytes as sent, before the client undoes any content coding."""
    with client.stream("GET", url, headers=headers) as response:
        return response, b"".join(response.iter_raw())


def urls(shop: Shop) -> list[str]:
    return [
        "/",
        "/?lang=de",
        f"/v/{shop.id}",
        "/verify?q=bakkerij",
        f"/embed/{shop.id}",
        "/embed.js",
        "/static/verify.css",
        "/static/embed.css",
        f"/api/v1/shops/{shop.id}",
        "/openapi.json",
    ]


@pytest.mark.parametrize("coding", ["gzip", "br"])
def test_text_responses_are_compressed_when_accepted(
    client: TestClient, shop: Shop, coding: str
) -> None:
    for url in urls(shop):
        plain, plain_bytes = raw_get(client, url, {"accept-encoding": "identity"})
        response, sent = raw_get(client, url, {"accept-encoding": coding})
        assert response.status_code == plain.status_code == 200, url
        assert "content-encoding" not in plain.headers, url
        assert response.headers["content-encoding"] == coding, url
        assert int(response.headers["content-length"]) == len(sent), url
        assert DECODE[coding](sent) == plain_bytes, url
        assert len(sent) < len(plain_bytes), url
        for answer in (plain, response):
            assert "accept-encoding" in answer.headers["vary"].lower(), url
        if "etag" in plain.headers:
            assert response.headers["etag"] == plain.headers["etag"][:-1] + f'-{coding}"', url


def test_existing_vary_is_kept(client: TestClient, shop: Shop) -> None:
    response = client.get(f"/v/{shop.id}", headers={"accept-encoding": "br"})
    assert response.headers["vary"] == "Accept-Language, Referer, Accept-Encoding"


def test_metrics_for_a_scraper_that_accepts_gzip(client: TestClient) -> None:
    response, sent = raw_get(client, "/metrics", {"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert b"badge_responses_total" in gzip.decompress(sent)


def test_small_bodies_and_binary_types_stay_as_they_are(client: TestClient) -> None:
    small, body = raw_get(client, "/healthz", {"accept-encoding": "gzip, br"})
    assert body == b"ok\n" and "content-encoding" not in small.headers
    icon, data = raw_get(client, "/favicon.ico", {"accept-encoding": "gzip, br"})
    assert icon.status_code == 200 and "content-encoding" not in icon.headers
    assert "vary" not in icon.headers
    assert data[:4] == b"\x00\x00\x01\x00"


@pytest.mark.parametrize("url", ["/embed.js", "/static/verify.css"])
def test_revalidation_per_coding(client: TestClient, url: str) -> None:
    tags = {
        coding: client.get(url, headers={"accept-encoding": coding}).headers["etag"]
        for coding in ("identity", "gzip", "br")
    }
    assert len(set(tags.values())) == 3
    for coding, etag in tags.items():
        response = client.get(url, headers={"accept-encoding": coding, "if-none-match": etag})
        assert response.status_code == 304, coding
        assert response.headers["etag"] == etag
        assert "accept-encoding" in response.headers["vary"].lower()
    # A cache that holds the gzip bytes and now asks for br is told its copy is still good.
    held = client.get(url, headers={"accept-encoding": "br", "if-none-match": tags["gzip"]})
    assert held.status_code == 304
    assert held.headers["etag"] == tags["gzip"]
    fresh = client.get(url, headers={"accept-encoding": "br", "if-none-match": '"other"'})
    assert fresh.status_code == 200 and fresh.headers["etag"] == tags["br"]


def test_a_range_request_gets_identity_bytes(client: TestClient) -> None:
    response, sent = raw_get(
        client, "/static/verify.css", {"accept-encoding": "gzip, br", "range": "bytes=0-99"}
    )
    assert response.status_code == 206
    assert "content-encoding" not in response.headers
    assert len(sent) == 100


def test_posted_verdicts_are_compressed_too(client: TestClient, shop: Shop) -> None:
    badge = client.get(f"/b/{shop.id}.svg").content
    plain = client.post(
        "/api/v1/verify",
        content=badge,
        headers={"content-type": "image/svg+xml", "accept-encoding": "identity"},
    )
    assert plain.json()["genuine"] is True and len(plain.content) >= 256
    with client.stream(
        "POST",
        "/api/v1/verify",
        content=badge,
        headers={"content-type": "image/svg+xml", "accept-encoding": "br"},
    ) as response:
        sent = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "br"
    assert brotli.decompress(sent) == plain.content
