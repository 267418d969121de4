"""badge.platform.caches: the one bounded-cache rule, and what /metrics reads of it."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from badge.platform.caches import BoundedCache, CacheSet, CacheStats
from badge.registry.model import Shop
from badge.serving.warm import MAX_WARM
from tests.conftest import feed_polled_twice


def test_the_least_recently_used_entry_goes_first() -> None:
    cache: BoundedCache[str, int] = BoundedCache("t", 3)
    for n, key in enumerate("abc"):
        cache.put(key, n)
    assert cache.get("a") == 0  # "a" is now the most recently used; "b" the least
    cache.put("d", 3)
    assert "b" not in cache
    assert [cache.get(k) for k in "acd"] == [0, 2, 3]
    assert len(cache) == 3


def test_a_flood_of_new_keys_keeps_a_busy_entry() -> None:
    cache: BoundedCache[str, str] = BoundedCache("t", 8)
    cache.put("busy", "kept")
    for n in range(1000):
        cache.put(f"junk-{n}", "x")
        if n % 4 == 0:
            assert cache.get("busy") == "kept"
    assert len(cache) == 8


def test_counts_hits_misses_and_evictions() -> None:
    cache: BoundedCache[int, int] = BoundedCache("numbers", 2)
    assert cache.get(1) is None
    cache.put(1, 10)
    cache.put(2, 20)
    cache.put(1, 11)  # a replacement, not an eviction
    cache.put(3, 30)  # 2 is the least recently used
    assert cache.get(1) == 11
    assert cache.get(2) is None
    assert cache.pop(3) == 30
    assert cache.pop(3) is None
    assert cache.stats() == CacheStats("numbers", 1, 2, hits=1, misses=2, evictions=1)
    cache.clear()
    assert len(cache) == 0 and cache.stats().evictions == 1


def test_a_cache_needs_room() -> None:
    with pytest.raises(ValueError, match="at least one entry"):
        BoundedCache("none", 0)


def test_the_set_reports_each_cache_once_by_name() -> None:
    caches = CacheSet()
    first: BoundedCache[str, int] = caches.new("b", 4)
    caches.new("a", 2)
    first.put("x", 1)
    # Made again (a second lifespan of the same app): the new one is reported.
    again: BoundedCache[str, int] = caches.new("b", 4)
    again.put("y", 1)
    again.put("z", 2)
    assert [(s.name, s.size, s.maxsize) for s in caches.snapshot()] == [("a", 0, 2), ("b", 2, 4)]


def metric_lines(client: TestClient, family: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(family + "{"):
            labels, value = line.rsplit(" ", 1)
            found[labels[len(family) + len('{cache="') : -2]] = float(value)
    return found


def test_every_cache_of_the_app_is_in_metrics(client: TestClient, shop: Shop) -> None:
    # A request seen before is answered from the hot path's warm table, before these caches:
    # each Accept-Encoding makes a new request of the same query and Referer.
    for coding in ("gzip", "br", "gzip, br"):
        headers = {"Referer": "https://bakkerij-jansen.be/", "Accept-Encoding": coding}
        assert client.get(f"/b/{shop.id}.png?lang=fr", headers=headers).status_code == 200
        assert client.get(f"/v/{shop.id}", headers={"Accept-Encoding": "br"}).status_code == 200
    assert client.get("/b/abcdefghijkmnpqr.svg").status_code == 404
    sizes = metric_lines(client, "badge_cache_entries")
    assert set(sizes) == {
        "accept_encodings",
        "badge_queries",
        "badge_referers",
        "compressed_bodies",
        "png_pixels",
        "shop_histories",
        "shop_pages",
        "unknown_shops",
        "warm_answers",
    }
    assert sizes["badge_queries"] == 1
    assert sizes["png_pixels"] == 1
    assert sizes["unknown_shops"] == 1
    assert sizes["shop_pages"] >= 1
    hits = metric_lines(client, "badge_cache_hits_total")
    assert hits["badge_queries"] >= 2 and hits["badge_referers"] >= 2
    assert metric_lines(client, "badge_cache_max_entries")["png_pixels"] == 2048
    assert set(metric_lines(client, "badge_cache_evictions_total").values()) == {0.0}


def test_the_warm_answers_are_in_metrics_beside_the_caches(client: TestClient, shop: Shop) -> None:
    headers = {"Referer": "https://bakkerij-jansen.be/", "Accept-Encoding": "br"}
    feed_polled_twice(client)  # else the feed's late news of the shop may empty the table
    for _ in range(5):
        assert client.get(f"/b/{shop.id}.svg?lang=fr", headers=headers).status_code == 200
    # The first request's query and Referer were new, so its answer was not kept; the second
    # was kept, and the three after it were answered from the table.
    assert metric_lines(client, "badge_cache_entries")["warm_answers"] == 1
    assert metric_lines(client, "badge_cache_misses_total")["warm_answers"] == 2
    assert metric_lines(client, "badge_cache_hits_total")["warm_answers"] == 3
    assert metric_lines(client, "badge_cache_max_entries")["warm_answers"] == MAX_WARM
