"""badge.serving.hotpath: the pure-ASGI fast path for /b/{id}.svg|png."""

from __future__ import annotations

from urllib.parse import quote

from starlette.testclient import TestClient

from badge.platform.caches import CacheSet
from badge.registry.model import Shop
from badge.serving import query as badge_query
from badge.serving.hotpath import MAX_CACHED_QUERIES, BadgeHotPath, HotPathStats
from badge.serving.query import BadRequestParam
from badge.serving.service import BadgeService
from tests.conftest import feed_polled_twice
from tests.servers import token_claims

OWN = {"referer": "https://www.bakkerij-test.be/"}


def path_of(client: TestClient) -> BadgeHotPath:
    stack = client.app.middleware_stack  # type: ignore[attr-defined]
    assert isinstance(stack, BadgeHotPath)
    return stack


def test_the_query_cache_is_bounded_and_keeps_busy_queries() -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not reached")

    caches = CacheSet()
    path = BadgeHotPath(app, HotPathStats(), caches)  # type: ignore[arg-type]
    busy = path._query(b"lang=nl")
    for n in range(MAX_CACHED_QUERIES * 2):
        path._query(b"lang=nl&n=%d" % n)
        if n % 100 == 0:
            assert path._queries.get(b"lang=nl") is busy
    stats = {s.name: s for s in caches.snapshot()}["badge_queries"]
    assert stats.size == MAX_CACHED_QUERIES
    assert stats.evictions == MAX_CACHED_QUERIES + 1
    too_long = path._query(b"x" * (badge_query.MAX_QUERY_BYTES + 1))
    assert isinstance(too_long, BadRequestParam) and too_long.kind == "query"
    assert b"x" * (badge_query.MAX_QUERY_BYTES + 1) not in path._queries


def test_the_longest_d_the_document_allows_is_answered_and_not_kept(
    client: TestClient, shop: Shop
) -> None:
    """`d` is up to 253 characters: percent-encoded four-byte characters make that 3 KB."""
    d = quote("\U0001f600" * 253)
    query = f"lang=fr&size=l&scale=2&d={d}"
    assert len(query) > badge_query.MAX_CACHED_QUERY_BYTES
    response = client.get(f"/b/{shop.id}.svg?{query}")
    assert response.status_code == 200
    claims = token_claims(response.content)
    assert claims is not None and claims["variant"] == "mismatch"
    assert query.encode() not in path_of(client)._queries
    too_long = client.get(f"/b/{shop.id}.svg?{query}&d={d}")
    assert too_long.status_code == 400


def test_a_badge_is_loaded_then_drawn_then_served_from_memory(
    client: TestClient, shop: Shop
) -> None:
    service: BadgeService = client.app_state["badges"]  # type: ignore[attr-defined]
    url = f"/b/{shop.id}.svg"
    # The app started before the shop was added. Until the change feed has passed that
    # change, it may still drop the entry the first request loads, and count a second load.
    feed_polled_twice(client)
    cold = client.get(url, headers=OWN)  # no entry yet: loaded, then drawn
    assert cold.status_code == 200
    drawn = service.stats().drawing.renders
    other = client.get(url + "?lang=de", headers=OWN)  # usable entry, new variant: drawn
    assert other.status_code == 200 and service.stats().drawing.renders == drawn + 1
    loads = service.stats().loader.registry_loads
    for _ in range(3):  # warm: neither loaded nor drawn
        assert client.get(url + "?lang=de", headers=OWN).content == other.content
    assert service.stats().loader.registry_loads == loads
    assert service.stats().drawing.renders == drawn + 1


def test_responses_are_counted_by_status(client: TestClient, shop: Shop) -> None:
    stats = path_of(client).stats
    url = f"/b/{shop.id}.png"
    first = client.get(url, headers=OWN)
    client.get(url, headers={**OWN, "if-none-match": first.headers["etag"]})
    client.get(url + "?size=xl")
    client.post(url)
    client.get("/b/aaaaaaaaaaaaaaaa.png")
    assert (stats.ok, stats.not_modified) == (1, 1)
    assert stats.responses == {400: 1, 405: 1, 404: 1}
    # Both views are counted once: in the tally, or (when the repeat was kept as a warm
    # answer) on that answer. Whether it was kept depends on the entry still being current,
    # which a slow machine can change between the two requests.
    sighted = (shop.id, b"www.bakkerij-test.be", None)
    held = dict(stats.take_sightings())
    assert set(stats.sightings.counts) | set(held) == {sighted}
    assert stats.sightings.counts.get(sighted, 0) + held.get(sighted, 0) == 2


def test_the_protocol_answer_is_what_the_asgi_path_sends(shop: Shop, client: TestClient) -> None:
    # The shop first: made after the app started, the change feed would drop its entry.
    hot = path_of(client)
    state = client.app_state  # type: ignore[attr-defined]
    url = f"/b/{shop.id}.svg?lang=fr".encode()
    headers = [(b"host", b"testserver"), (b"accept-encoding", b"identity")]
    written: list[bytes] = []

    def answer(method: str, target: bytes = url) -> int:
        return hot.answer(method, target, headers, state, written.append, b"date: now\r\n")

    # Nothing in memory yet: loading the shop is I/O, which the ASGI way does.
    assert answer("GET") == 0 and written == []
    sent = client.get(url.decode(), headers={"accept-encoding": "identity"})
    ok = hot.stats.ok
    assert answer("GET") == 200 and hot.stats.ok == ok + 1
    head, _, body = written[0].partition(b"\r\n\r\n")
    status, date, *lines = head.split(b"\r\n")
    assert (status, date, body) == (b"HTTP/1.1 200 OK", b"date: now", sent.content)
    assert dict(line.decode().split(": ", 1) for line in lines) == dict(sent.headers)
    written.clear()
    assert answer("HEAD") == 200 and written[0] == head + b"\r\n\r\n"
    # Another method, or a path uvicorn would decode first: the ASGI way.
    assert answer("POST") == 0 and answer("GET", url.replace(b".svg", b"%2Esvg")) == 0
    assert len(written) == 1
