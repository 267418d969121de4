"""badge.serving.refusals: what the badge hot path answers a request it refuses."""

from __future__ import annotations

import asyncio

import pytest
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


@pytest.mark.parametrize(
    ("method", "asked", "content_type", "reason", "lang"),
    [
        pytest.param(
            "GET", ".svg?lang=fr&size=xl", "image/svg+xml", "size? (s, m, l) (got xl)", "fr"
        ),
        pytest.param("HEAD", ".png?lang=de&scale=9", "image/png", "scale? ", "de", id="head"),
        # Too long to read at all, so not even its language is taken.
        pytest.param("GET", ".svg?lang=fr&x=" + "y" * 5000, "image/svg+xml", "query", "nl"),
    ],
)
def test_a_bad_query_gets_an_error_badge_with_its_reason_in_a_header_only(
    client: TestClient,
    shop: Shop,
    method: str,
    asked: str,
    content_type: str,
    reason: str,
    lang: str,
) -> None:
    got = client.request(method, f"/b/{shop.id}{asked}")
    assert got.status_code == 400
    assert got.headers["content-type"].startswith(content_type)
    assert got.headers["x-badge-error"].startswith(reason)
    if method == "HEAD":
        assert got.content == b""
    elif content_type == "image/svg+xml":
        # The reason stays out of the image: the badge is one of a few prepared ones.
        assert "(got" not in got.text
        assert f'lang="{lang}"' in got.text
