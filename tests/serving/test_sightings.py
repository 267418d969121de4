"""badge.serving.sightings: bounded counts of where badges are shown, that a flood of junk
cannot blind."""

from __future__ import annotations

import http.client
import time
from pathlib import Path

import pytest

from badge.registry import rules
from badge.registry.sqlite import SQLiteRegistry
from badge.serving.sightings import GROUP_CAP, Collector, Seen, Tally, normalise_host, plan
from tests.conftest import add_shop
from tests.servers import Service, free_port, service_env


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        pytest.param("Shop.BE.", "shop.be", id="domain"),
        pytest.param("www.shop.be", "shop.be", id="www"),
        pytest.param("bücher.be", "xn--bcher-kva.be", id="idna"),
        pytest.param("192.0.2.7", "192.0.2.7", id="ipv4"),
        pytest.param("[2001:db8::1]", "2001:db8::1", id="ipv6"),
        pytest.param("not a host", None, id="junk"),
    ],
)
def test_normalise_host(raw: str, stored: str | None) -> None:
    assert normalise_host(raw) == stored


def test_a_tally_drains_lower_bounds_and_starts_afresh() -> None:
    tally: Tally[str] = Tally(limit=4)
    for key, hits in [("a", 5), ("b", 3), ("c", 1), ("d", 1)]:
        tally.add(key, hits)
    tally.add("e")  # full: the lighter half goes, and "e" starts from the count cut
    assert set(tally.counts) == {"a", "b", "e"}
    drained = dict(tally.drain())
    assert drained == {"a": 5, "b": 3, "e": 1}
    assert len(tally) == 0 and tally.floor == 0


def test_the_collector_groups_by_shop_and_source_and_marks_registered_hosts() -> None:
    collector = Collector({"s1": frozenset({"shop.be"})}, idna_budget=10)
    collector.add("s1", "referer", "www.shop.be", 3)
    collector.add("s1", "referer", "shop.be", 2)
    collector.add("s1", "claim", "copy.example", 1)
    collector.add("unknown", "referer", "shop.be", 1)  # no domains known: not counted
    assert collector.batch == {
        ("s1", "referer"): {"shop.be": Seen(5, True)},
        ("s1", "claim"): {"copy.example": Seen(1, False)},
    }
    assert collector.skipped == 0


def test_the_collector_caps_one_off_hosts_per_group() -> None:
    collector = Collector({"s1": frozenset()}, idna_budget=0)
    for n in range(GROUP_CAP + 5):
        collector.add("s1", "claim", f"h{n}.example", 1)
    collector.add("s1", "claim", "busy.example", 40)  # a heavy newcomer still gets in
    collector.add("s1", "claim", "bücher.be", 9)  # needs IDNA, none left
    group = collector.batch[("s1", "claim")]
    assert len(group) == GROUP_CAP + 1 and group["busy.example"].hits == 40
    assert collector.skipped == 6
    assert GROUP_CAP == 5 * rules.MAX_SIGHTINGS_PER_SHOP


def test_tally_keeps_a_regular_through_a_flood() -> None:
    """Space-saving keeps any key seen more than total/limit times, whatever else comes."""
    tally: Tally[str] = Tally(limit=100)
    for i in range(5_000):
        tally.add(f"junk{i}.example")
        if i % 50 == 0:
            tally.add("regular.example")  # 100 hits among 5,100: more than 5,100 / 100
    assert len(tally) <= 100
    counts = dict(tally.drain())
    # The count it reports is a lower bound of the real hits.
    assert 1 <= counts["regular.example"] <= 100
    assert len(tally) == 0


def test_take_moves_a_keys_hits_out_of_the_tally() -> None:
    tally: Tally[str] = Tally(limit=4)
    tally.add("regular.example", 3)
    assert tally.take("regular.example") == 3
    assert tally.take("regular.example") == 0
    for i in range(10):
        tally.add(f"junk{i}.example")
    # A key that came in over the bound inherited a floor: only its own hits move out.
    tally.add("late.example", 2)
    assert tally.take("late.example") == 2
    assert "late.example" not in dict(tally.drain())


def test_plan_replaces_the_smallest_and_bounds_the_rows() -> None:
    existing = {"a.be": 10, "b.be": 1, "c.be": 5}
    todo = plan(existing, {"a.be": Seen(2, True), "new.be": Seen(3, False)}, limit=3)
    assert todo.bump == {"a.be": Seen(2, True)}
    assert todo.evict == ["b.be"]
    assert todo.insert == {"new.be": (Seen(3, False), 1)}  # starts from the evicted count
    room = plan({}, {f"h{i}.be": Seen(1, False) for i in range(10)}, limit=4)
    assert len(room.insert) == 4 and room.evict == []


@pytest.mark.server
def test_a_flood_of_junk_hosts_cannot_hide_a_site_that_shows_the_badge(tmp_path: Path) -> None:
    """20,000 junk `d=` values and 5,000 forged Referers, against 50 real page views."""
    port = free_port()
    env = service_env(tmp_path, BADGE_PUBLIC_URL=f"http://127.0.0.1:{port}")
    registry = SQLiteRegistry(tmp_path / "badge.db")
    shop = add_shop(registry, domains=("shop-test.be",))
    server = Service(env, port=port)
    server.start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        path = f"/b/{shop.id}.svg"
        started = time.monotonic()
        for i in range(20_000):
            connection.request("GET", f"{path}?d=junk{i}.example")
            connection.getresponse().read()
            if i % 4 == 0:
                forged = {"referer": f"https://forged{i}.example/"}
                connection.request("GET", path, headers=forged)
                connection.getresponse().read()
            if i % 400 == 0:
                connection.request("GET", path, headers={"referer": "https://copycat.example/"})
                connection.getresponse().read()
        connection.close()
        print(f"\n25,050 badge requests in {time.monotonic() - started:.1f} s")
    finally:
        server.stop()  # the shutdown flushes the last sightings
    rows = registry.sightings(shop_id=shop.id)
    registry.close()
    referer = [s for s in rows if s.source == "referer"]
    claims = [s for s in rows if s.source == "claim"]
    assert referer[0].host == "copycat.example"
    assert referer[0].count >= 50
    assert referer[0].registered is False
    assert 0 < len(claims) <= 200 and len(referer) <= 200
    # Operators see what browsers reported first.
    assert rows[: len(referer)] == referer
