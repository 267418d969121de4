"""Host names nobody can use to slow us down: the quick path, the IDNA budgets, the flush."""

from __future__ import annotations

import pytest

from badge.platform.caches import CacheSet
from badge.registry import rules
from badge.serving import binding, hotpath
from badge.serving import query as badge_query
from badge.serving.sightings import GROUP_CAP, Collector

SAMPLES = [
    "shop.be",
    "Shop.BE",
    "www.shop.be",
    "www.be",
    "shop.be.",
    "a-b.c-d.example",
    "xn--bcher-kva.be",
    "ab--cd.be",
    "-shop.be",
    "shop-.be",
    "shop",
    "shop.b",
    "shop.123",
    "127.0.0.1",
    "shop.be:8443",
    "https://shop.be/",
    "bücher.be",
    "BÜCHER.be",
    "shop..be",
    "a" * 64 + ".be",
    "sub." * 60 + "be",
    "",
]


@pytest.mark.parametrize("raw", SAMPLES)
def test_quick_domain_agrees_with_the_full_rules(raw: str) -> None:
    """Where the quick path answers, a registered domain compares the same as with IDNA."""
    quick = binding.quick_domain(raw)
    full = rules.try_normalise_domain(raw)
    if quick is None:
        return  # the full rules decide, within a budget
    if full is None:
        # Not a valid domain, so never a registered one: it may only differ in hyphen pairs
        # (punycode is not decoded on the quick path).
        assert "--" in quick
    else:
        assert quick == full


def test_plain_hosts_take_the_quick_path() -> None:
    assert binding.quick_domain("WWW.Bakkerij-Test.BE.") == "bakkerij-test.be"
    assert binding.quick_domain("xn--bcher-kva.be") == "xn--bcher-kva.be"
    assert binding.quick_domain("bücher.be") is None
    assert binding.quick_domain("shop.be:443") is None


def test_a_spent_idna_budget_leaves_d_out_and_uncached() -> None:
    spent = badge_query.Budget(0)
    query = badge_query.parse_query(b"d=b%C3%BCcher.be", spent)
    assert (query.host, query.site, query.final) == ("bücher.be", None, False)
    # A plain host needs no budget at all.
    plain = badge_query.parse_query(b"d=www.shop.be", spent)
    assert (plain.site, plain.final) == ("shop.be", True)
    fresh = badge_query.Budget(1)
    assert badge_query.parse_query(b"d=b%C3%BCcher.be", fresh).site == "xn--bcher-kva.be"
    assert badge_query.parse_query(b"d=b%C3%BCchers.be", fresh).final is False


def test_the_hot_path_caches_only_final_queries() -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("not reached")

    stats = hotpath.HotPathStats()
    path = hotpath.BadgeHotPath(app, stats, CacheSet())  # type: ignore[arg-type]
    path._idna = badge_query.Budget(0)
    assert isinstance(path._query(b"d=b%C3%BCcher.be"), badge_query.BadgeQuery)
    assert b"d=b%C3%BCcher.be" not in path._queries
    path._idna = badge_query.Budget(5)
    query = path._query(b"d=b%C3%BCcher.be")
    assert isinstance(query, badge_query.BadgeQuery) and query.site == "xn--bcher-kva.be"
    assert path._queries.get(b"d=b%C3%BCcher.be") is query


def test_budget_resets_each_second(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.2]
    monkeypatch.setattr(badge_query, "_monotonic", lambda: now[0])
    budget = badge_query.Budget(2)
    assert [budget.take() for _ in range(3)] == [True, True, False]
    now[0] = 101.0
    assert budget.take() is True


def test_the_flush_bounds_idna_and_keeps_plain_hosts() -> None:
    domains = {"aaaaaaaaaaaaaaaa": frozenset({"shop.be"})}
    collector = Collector(domains, idna_budget=3)
    collector.add("aaaaaaaaaaaaaaaa", "referer", "www.shop.be", 5)
    for i in range(10):
        collector.add("aaaaaaaaaaaaaaaa", "claim", f"bücher{i}.be", 1)
        collector.add("aaaaaaaaaaaaaaaa", "claim", f"plain{i}.example", 1)
    collector.add("bbbbbbbbbbbbbbbb", "claim", "x.be", 1)  # no such shop: nothing
    referers = collector.batch[("aaaaaaaaaaaaaaaa", "referer")]
    assert referers["shop.be"].hits == 5 and referers["shop.be"].registered
    claims = collector.batch[("aaaaaaaaaaaaaaaa", "claim")]
    assert sum(host.startswith("xn--") for host in claims) == 3
    assert sum(host.startswith("plain") for host in claims) == 10
    assert collector.skipped == 7
    assert ("bbbbbbbbbbbbbbbb", "claim") not in collector.batch


def test_the_flush_bounds_one_shops_flood_of_one_off_hosts() -> None:
    domains = {"aaaaaaaaaaaaaaaa": frozenset({"shop.be"})}
    collector = Collector(domains, idna_budget=0)
    for i in range(GROUP_CAP + 500):
        collector.add("aaaaaaaaaaaaaaaa", "claim", f"junk{i}.example", 1)
    collector.add("aaaaaaaaaaaaaaaa", "claim", "regular.example", 40)  # seen often: kept
    claims = collector.batch[("aaaaaaaaaaaaaaaa", "claim")]
    assert len(claims) == GROUP_CAP + 1 and claims["regular.example"].hits == 40
    assert collector.skipped == 500
