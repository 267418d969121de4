"""badge.serving.refusals: what the badge hot path answers a request it refuses."""

from __future__ import annotations

import asyncio

from starlette.testclient import TestClient
from starlette.types import Message

from badge.registry.model import Shop
from badge.serving.hotpath import HotPathStats
from badge.serving.refusals import not_allowed


def test_a_method_other_than_get_and_head_gets_a_plain_405() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    stats = HotPathStats()
    asyncio.run(not_allowed(send, stats, "/b/{shop_id}.svg", 0.0))
    start, body = sent
    headers = dict(start["headers"])
    assert start["status"] == 405
    assert headers[b"allow"] == b"GET, HEAD" and headers[b"cache-control"] == b"no-store"
    assert int(headers[b"content-length"]) == len(body["body"])
    assert stats.responses[405] == 1
    assert sum(stats.timings[("/b/{shop_id}.svg", "error", 405)][:-1]) == 1


def test_a_post_to_a_badge_is_refused_without_a_body(client: TestClient, shop: Shop) -> None:
    response = client.post(f"/b/{shop.id}.svg", content=b"x")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_a_bad_query_gets_an_error_badge_with_its_reason_in_a_header_only(
    client: TestClient, shop: Shop
) -> None:
    response = client.get(f"/b/{shop.id}.svg?lang=fr&size=huge")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.headers["x-badge-error"].startswith("size? ")
    assert "huge" in response.headers["x-badge-error"]
    # The reason stays out of the image: the badge is one of a few prepared ones.
    assert "huge" not in response.text
    assert 'lang="fr"' in response.text or 'xml:lang="fr"' in response.text


def test_a_head_with_a_bad_query_gets_the_headers_and_no_body(
    client: TestClient, shop: Shop
) -> None:
    got = client.head(f"/b/{shop.id}.png?scale=9")
    assert got.status_code == 400
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-badge-error"].startswith("scale")
    assert got.content == b""


def test_an_over_long_query_is_refused_in_the_default_language(
    client: TestClient, shop: Shop
) -> None:
    got = client.get(f"/b/{shop.id}.svg?lang=fr&x={'y' * 2000}")
    assert got.status_code == 400
    assert got.headers["x-badge-error"].startswith("query")
