"""What a badge says about the page that shows it (binding.py), and sightings nobody can blind."""

from __future__ import annotations

import http.client
import time
from pathlib import Path

import pytest

from badge.registry.sqlite import SQLiteRegistry
from badge.serving import binding
from badge.serving.sightings import Seen, Tally, plan
from tests.conftest import add_shop
from tests.servers import Service, free_port, service_env

DOMAINS = frozenset({"shop.be", "xn--bcher-kva.be"})

# certified?, Referer class, `d` normalised, expected site class
DECISIONS = [
    pytest.param(True, "shop.be", None, "shop.be", id="own-domain"),
    pytest.param(True, "xn--bcher-kva.be", None, "xn--bcher-kva.be", id="own-idn"),
    pytest.param(True, binding.OWN, None, binding.OWN, id="our-own-pages"),
    pytest.param(True, "copy.example", None, binding.MISMATCH, id="foreign"),
    pytest.param(True, "", None, binding.MISMATCH, id="unreadable-referer"),
    pytest.param(True, None, None, binding.NEUTRAL, id="no-referer"),
    pytest.param(True, None, "shop.be", binding.NEUTRAL, id="no-referer-d-registered"),
    pytest.param(True, None, "copy.example", binding.MISMATCH, id="no-referer-d-foreign"),
    pytest.param(True, "copy.example", "shop.be", binding.MISMATCH, id="d-cannot-raise"),
    pytest.param(True, "shop.be", "copy.example", binding.MISMATCH, id="d-lowers"),
    pytest.param(True, "shop.be", "", binding.MISMATCH, id="d-not-a-host"),
    pytest.param(True, "shop.be", "shop.be", "shop.be", id="d-agrees"),
    pytest.param(True, binding.OWN, "copy.example", binding.MISMATCH, id="own-page-d-foreign"),
    pytest.param(False, "shop.be", None, binding.OFF, id="suspended-own"),
    pytest.param(False, None, None, binding.OFF, id="suspended-none"),
    pytest.param(False, "copy.example", "x", binding.OFF, id="suspended-foreign"),
]


@pytest.mark.parametrize(("certified", "referer", "claim", "expected"), DECISIONS)
def test_decide(certified: bool, referer: str | None, claim: str | None, expected: str) -> None:
    assert binding.decide(certified, DOMAINS, referer, claim) == expected


@pytest.mark.parametrize(
    ("netloc", "host"),
    [
        (b"shop.be", "shop.be"),
        (b"WWW.Shop.BE:8443", "shop.be"),
        (b"shop.be.", "shop.be"),
        (b"www.be", "www.be"),  # a registrable name that happens to be www
        (b"[::1]:8080", "[::1]"),
        (b"127.0.0.2:80", "127.0.0.2"),
        (b"xn--bcher-kva.be", "xn--bcher-kva.be"),
        (b"b\xc3\xbccher.be", "bã¼cher.be"),  # raw UTF-8 is no browser's Referer: no match
    ],
)
def test_referer_host(netloc: bytes, host: str) -> None:
    assert binding.referer_host(netloc) == host


@pytest.mark.parametrize(
    ("referer", "netloc"),
    [
        (b"https://shop.be/", b"shop.be"),
        (b"https://shop.be:8443/a/b?c", b"shop.be:8443"),
        (b"https://shop.be", b"shop.be"),
        (b"shop.be/x", None),
        (b"https:///x", None),
        (b"", None),
    ],
)
def test_referer_netloc(referer: bytes, netloc: bytes | None) -> None:
    assert binding.referer_netloc(referer) == netloc


def test_variant_claims_say_what_was_shown() -> None:
    assert binding.variant_claims("shop.be", "badge.example") == {
        "variant": "certified",
        "site": "shop.be",
    }
    assert binding.variant_claims(binding.OWN, "badge.example")["site"] == "badge.example"
    assert binding.variant_claims(binding.MISMATCH, "x") == {"variant": "mismatch"}
    assert binding.variant_claims(binding.NEUTRAL, "x") == {"variant": "neutral"}
    assert binding.variant_claims(binding.OFF, "x") == {"variant": "not_certified"}


# -- sightings -----------------------------------------------------------------------------


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
