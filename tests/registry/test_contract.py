"""The registry contract: every test here runs against a real SQLite file (id `sqlite`) and
a real PostgreSQL server (id `postgres`), through the `registry` fixture in conftest.py.

What one backend adds (its schema, files, pools, several instances) is in test_sqlite.py
and test_postgres.py.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from badge.errors import Conflict, NotFound, ValidationError
from badge.platform.timeutil import today
from badge.registry import rules, store
from badge.registry.base import Registry
from badge.serving.sightings import Batch, Seen, Source
from tests.registry.shops import add, new_shop

# Shops


def test_create_and_get(registry: Registry) -> None:
    shop = add(registry, domains=("https://WWW.Bakkerij-Test.be/", "bücher.be"))
    assert rules.is_shop_id(shop.id)
    assert shop.domains == ("bakkerij-test.be", "xn--bcher-kva.be")
    assert shop.enterprise_number == "0123.456.749"
    assert shop.state == "certified"
    assert shop.certified_since == date(2024, 1, 1)
    assert shop.last_audit == date(2025, 6, 1)
    assert shop.created_at.tzinfo is not None
    assert registry.get_shop(shop.id) == shop
    assert registry.count_shops() == 1


@pytest.mark.parametrize(
    "shop_id",
    [
        pytest.param("abcdefghijkmnpqr", id="well-formed-unknown"),
        pytest.param("", id="empty"),
        pytest.param("' OR 1=1 --", id="sql"),
        pytest.param("x" * 10_000, id="huge"),
    ],
)
def test_get_unknown_is_none(registry: Registry, shop_id: str) -> None:
    add(registry)
    assert registry.get_shop(shop_id) is None


def test_list_is_sorted_by_name_case_insensitively(registry: Registry) -> None:
    add(registry, "zeta", domains=("zeta.be",))
    add(registry, "Alpha", domains=("alpha.be",))
    add(registry, "beta", domains=("beta.be",))
    assert [s.display_name for s in registry.list_shops()] == ["Alpha", "beta", "zeta"]
    assert [s.display_name for s in registry.list_shops(limit=1, offset=1)] == ["beta"]


def test_update_changes_fields_and_normalises(registry: Registry) -> None:
    shop = add(registry)
    updated = registry.update_shop(
        shop.id,
        actor="test",
        reason="new owner",
        display_name="  Bakkerij   Nieuw ",
        enterprise_number="BE 0970.000.097",
        domains=("www.Nieuw.be", "nieuw.be", "ander.be:8080"),
        categories=("sponsor", "B2B-member"),
    )
    assert updated.display_name == "Bakkerij Nieuw"
    assert updated.enterprise_number == "0970.000.097"
    assert updated.domains == ("nieuw.be", "ander.be")
    assert updated.categories == ("b2b_member", "sponsor")
    assert updated.legal_name == shop.legal_name  # untouched fields stay
    assert updated.updated_at >= shop.updated_at
    assert registry.get_shop(shop.id) == updated
    # The old domain is free again.
    assert registry.find_by_domain("bakkerij-test.be") is None
    assert registry.find_by_domain("ander.be") == updated


def test_update_valid_until_is_an_event(registry: Registry) -> None:
    shop = add(registry, valid_until="2026-12-31")
    registry.update_shop(shop.id, actor="renewer", reason="audit", valid_until=date(2027, 12, 31))
    last = registry.history(shop.id)[-1]
    assert (last.actor, last.from_state, last.to_state) == ("renewer", "certified", "certified")
    assert last.reason == "audit"
    assert last.changes == {"valid_until": {"from": "2026-12-31", "to": "2027-12-31"}}
    assert registry.get_shop(shop.id).valid_until == date(2027, 12, 31)  # type: ignore[union-attr]
    # Same date again: no new event.
    registry.update_shop(shop.id, actor="renewer", reason="again", valid_until=date(2027, 12, 31))
    assert len(registry.history(shop.id)) == 2


def test_update_unknown_shop(registry: Registry) -> None:
    with pytest.raises(NotFound):
        registry.update_shop("abcdefghijkmnpqr", actor="test", reason="r", display_name="x")


def test_failed_update_changes_nothing(registry: Registry) -> None:
    first = add(registry, "First", domains=("first.be",))
    second = add(registry, "Second", domains=("second.be",))
    cursor = registry.change_cursor()
    with pytest.raises(Conflict, match=r"first\.be"):
        registry.update_shop(
            second.id,
            actor="test",
            reason="r",
            display_name="Renamed",
            domains=("www.first.be",),
        )
    # The name was written before the domain check failed; the transaction undid it.
    assert registry.get_shop(second.id) == second
    assert registry.find_by_domain("first.be") == first
    assert registry.change_cursor() == cursor


def test_domains_are_unique_across_shops(registry: Registry) -> None:
    first = add(registry, "First", domains=("shop.be",))
    for variant in ("shop.be", "https://WWW.SHOP.BE:443/", "shop.be."):
        with pytest.raises(Conflict, match=f"already registered to shop {first.id}"):
            add(registry, "Copycat", domains=("copycat.be", variant))
    assert registry.count_shops() == 1
    assert registry.find_by_domain("copycat.be") is None


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("bakkerij-test.be", id="plain"),
        pytest.param("https://WWW.Bakkerij-Test.BE:8443/winkel?x=1", id="url"),
        pytest.param("  bakkerij-test.be.  ", id="spaces-trailing-dot"),
    ],
)
def test_find_by_domain_with_messy_input(registry: Registry, query: str) -> None:
    shop = add(registry)
    assert registry.find_by_domain(query) == shop


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("", id="empty"),
        pytest.param("localhost", id="one-label"),
        pytest.param("bakkerij-test.com", id="other-tld"),
        pytest.param("fr.bakkerij-test.be", id="subdomain-not-registered"),
        pytest.param("%", id="wildcard"),
        pytest.param("127.0.0.1", id="ip"),
    ],
)
def test_find_by_domain_misses(registry: Registry, query: str) -> None:
    add(registry)
    assert registry.find_by_domain(query) is None


def test_search_by_name_and_domain(registry: Registry) -> None:
    bakker = add(registry, "Bakkerij Peeters", domains=("peeters-brood.be",))
    fiets = add(registry, "Fietsen Plus", domains=("fietsenplus.be",))
    assert registry.search("peeters") == [bakker]
    assert registry.search("BAKKERIJ") == [bakker]
    assert registry.search("fietsenplus.be") == [fiets]
    assert registry.search("Plus NV") == []  # legal name is "Fietsen Plus BV"
    assert registry.search("Plus BV") == [fiets]
    assert registry.search("   ") == []
    assert registry.search("e", limit=1) == [bakker]


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("%", id="percent"),
        pytest.param("_", id="underscore"),
        pytest.param("%%", id="double-percent"),
        pytest.param("B_kkerij", id="underscore-as-any-char"),
        pytest.param("Bak%ij", id="percent-inside"),
        pytest.param("\\", id="backslash"),
    ],
)
def test_search_treats_like_wildcards_literally(registry: Registry, query: str) -> None:
    add(registry, "Bakkerij Test", domains=("bakkerij.be",))
    add(registry, "Fietsen", domains=("fietsen.be",))
    assert registry.search(query) == []


def test_search_finds_literal_wildcard_characters(registry: Registry) -> None:
    add(registry, "Plain Shop", domains=("plain.be",))
    percent = add(registry, "100% Bio", domains=("bio.be",))
    under = add(registry, "Shop_Underscore", domains=("under.be",))
    assert registry.search("100%") == [percent]
    assert registry.search("%") == [percent]
    assert registry.search("_") == [under]


# State changes and the append-only history


def test_set_state_records_events(registry: Registry) -> None:
    shop = add(registry)
    before = datetime.now(UTC).replace(microsecond=0)
    event = registry.set_state(shop.id, "suspended", reason="  committee  review ", actor="alice")
    after = datetime.now(UTC)
    assert (event.shop_id, event.actor, event.from_state, event.to_state) == (
        shop.id,
        "alice",
        "certified",
        "suspended",
    )
    assert event.reason == "committee review"
    assert before <= event.at <= after
    registry.set_state(shop.id, "revoked", reason="expelled", actor="bob")
    registry.set_state(shop.id, "certified", reason="new audit passed", actor="carol")

    history = registry.history(shop.id)
    assert [(e.from_state, e.to_state, e.actor, e.reason) for e in history] == [
        (None, "certified", "test", "registered"),
        ("certified", "suspended", "alice", "committee review"),
        ("suspended", "revoked", "bob", "expelled"),
        ("revoked", "certified", "carol", "new audit passed"),
    ]
    assert history[1] == event
    assert [e.seq for e in history] == sorted(e.seq for e in history)
    current = registry.get_shop(shop.id)
    assert current is not None
    assert current.state == "certified"
    assert current.state_since >= event.at
    assert history[-1].to_json()["from"] == "revoked"


@pytest.mark.parametrize(
    ("start", "target", "message"),
    [
        pytest.param("certified", "certified", "already certified", id="same-state"),
        pytest.param("revoked", "suspended", "cannot become suspended", id="revoked-suspended"),
    ],
)
def test_illegal_state_change_changes_nothing(
    registry: Registry, start: str, target: str, message: str
) -> None:
    shop = add(registry)
    if start != "certified":
        registry.set_state(shop.id, start, reason="setup", actor="test")  # type: ignore[arg-type]
    before = registry.get_shop(shop.id)
    events = registry.history(shop.id)
    cursor = registry.change_cursor()
    with pytest.raises(Conflict, match=message):
        registry.set_state(shop.id, target, reason="try", actor="test")  # type: ignore[arg-type]
    assert registry.get_shop(shop.id) == before
    assert registry.history(shop.id) == events
    assert registry.change_cursor() == cursor


def test_set_state_needs_a_reason_and_a_shop(registry: Registry) -> None:
    shop = add(registry)
    with pytest.raises(ValidationError, match="reason is empty"):
        registry.set_state(shop.id, "suspended", reason="  ", actor="test")
    with pytest.raises(NotFound):
        registry.set_state("abcdefghijkmnpqr", "suspended", reason="x", actor="test")
    assert len(registry.history(shop.id)) == 1


def test_first_certification_sets_certified_since_as_belgian_day(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = add(registry, domains=("new.be",), state="suspended")
    assert shop.certified_since is None
    # Validity dates are Belgian calendar days: 22:30 UTC on 30 June is 1 July in Brussels.
    monkeypatch.setattr(store, "_now", lambda: datetime(2026, 6, 30, 22, 30, tzinfo=UTC))
    registry.set_state(shop.id, "certified", reason="audit passed", actor="test")
    certified = registry.get_shop(shop.id)
    assert certified is not None
    assert certified.certified_since == date(2026, 7, 1)
    # A later re-certification keeps the original date.
    monkeypatch.setattr(store, "_now", lambda: datetime(2026, 8, 1, 10, 0, tzinfo=UTC))
    registry.set_state(shop.id, "suspended", reason="x", actor="test")
    registry.set_state(shop.id, "certified", reason="y", actor="test")
    assert registry.get_shop(shop.id).certified_since == date(2026, 7, 1)  # type: ignore[union-attr]


# Import


def test_import_creates_all(registry: Registry) -> None:
    ticks: list[int] = []
    batch = [new_shop(f"Shop {i}", domains=(f"shop{i}.be",)) for i in range(5)]
    created = registry.import_shops(batch, actor="importer", progress=ticks.append)
    assert [s.display_name for s in created] == [f"Shop {i}" for i in range(5)]
    assert len({s.id for s in created}) == 5
    assert ticks == [1] * 5
    assert registry.count_shops() == 5
    assert registry.history(created[0].id)[0].actor == "importer"


@pytest.mark.parametrize(
    "clash",
    [
        pytest.param("within-batch", id="duplicate-in-batch"),
        pytest.param("existing", id="already-registered"),
    ],
)
def test_import_is_all_or_nothing(registry: Registry, clash: str) -> None:
    existing = add(registry, "Existing", domains=("existing.be",))
    cursor = registry.change_cursor()
    duplicate = "shop1.be" if clash == "within-batch" else "www.existing.be"
    batch = [
        new_shop("Shop 0", domains=("shop0.be",)),
        new_shop("Shop 1", domains=("shop1.be",)),
        new_shop("Shop 2", domains=("shop2.be", duplicate)),
        new_shop("Shop 3", domains=("shop3.be",)),
    ]
    with pytest.raises(Conflict):
        registry.import_shops(batch, actor="importer")
    assert registry.list_shops() == [existing]
    assert registry.find_by_domain("shop0.be") is None
    assert registry.change_cursor() == cursor
    # A good batch afterwards still works: the failed one left no lock or half rows.
    registry.import_shops(batch[:2], actor="importer")
    assert registry.count_shops() == 3


# Change feed


def test_change_feed_cursor_advances(registry: Registry) -> None:
    start = registry.change_cursor()
    assert registry.changes_since(start) == (start, [])
    a = add(registry, "A", domains=("a.be",))
    b = add(registry, "B", domains=("b.be",))
    cursor, changed = registry.changes_since(start)
    assert cursor > start
    assert changed == sorted([a.id, b.id])
    assert cursor == registry.change_cursor()
    assert registry.changes_since(cursor) == (cursor, [])

    registry.set_state(a.id, "suspended", reason="r", actor="t")
    registry.set_state(a.id, "certified", reason="r", actor="t")
    registry.update_shop(b.id, actor="t", reason="r", display_name="B2")
    later, changed = registry.changes_since(cursor)
    assert later > cursor
    assert changed == sorted([a.id, b.id])  # each id once, however often it changed
    assert registry.changes_since(later) == (later, [])


# Sightings


def seen(source: Source, shop_id: str, hosts: dict[str, tuple[int, bool]]) -> Batch:
    """A flush batch for one shop and source."""
    return {(shop_id, source): {h: Seen(hits, reg) for h, (hits, reg) in hosts.items()}}


def test_sightings_accumulate(registry: Registry) -> None:
    shop = add(registry)
    registry.record_sightings(seen("referer", shop.id, {"bakkerij-test.be": (3, True)}))
    registry.record_sightings(
        {
            **seen("referer", shop.id, {"bakkerij-test.be": (4, True), "evil.be": (1, False)}),
            **seen("claim", shop.id, {"typed.be": (9, False)}),
        }
    )
    registry.record_sightings({})
    rows = registry.sightings(shop_id=shop.id)
    by_host = {(s.source, s.host): s for s in rows}
    assert by_host[("referer", "bakkerij-test.be")].count == 7
    assert by_host[("referer", "bakkerij-test.be")].registered is True
    assert by_host[("referer", "evil.be")].count == 1
    first = by_host[("referer", "bakkerij-test.be")]
    assert first.first_seen <= first.last_seen
    assert {s.host for s in registry.sightings(unregistered_only=True)} == {"evil.be", "typed.be"}
    # What browsers reported comes first, by count; `d=` claims after, however many.
    assert [(s.source, s.host) for s in rows] == [
        ("referer", "bakkerij-test.be"),
        ("referer", "evil.be"),
        ("claim", "typed.be"),
    ]


def test_sightings_are_bounded_per_shop_and_source(registry: Registry) -> None:
    shop = add(registry, "A", domains=("a.be",))
    other = add(registry, "B", domains=("b.be",))
    flood = {f"h{i}.evil.be": Seen(1, False) for i in range(rules.MAX_SIGHTINGS_PER_SHOP + 50)}
    registry.record_sightings({(shop.id, "claim"): flood})
    registry.record_sightings(seen("referer", shop.id, {"a.be": (2, True)}))
    kept = registry.sightings(shop_id=shop.id)
    claims = [s for s in kept if s.source == "claim"]
    assert len(claims) == rules.MAX_SIGHTINGS_PER_SHOP
    # The claims' bound does not touch what the Referer showed.
    assert [s.host for s in kept if s.source == "referer"] == ["a.be"]
    # Known hosts still count up at the bound.
    registry.record_sightings(seen("claim", shop.id, {"h0.evil.be": (5, False)}))
    counts = {s.host: s.count for s in registry.sightings(shop_id=shop.id) if s.source == "claim"}
    assert counts["h0.evil.be"] == 6
    # The bound is per shop: another shop is not starved.
    registry.record_sightings(seen("referer", other.id, {"b.be": (1, True)}))
    assert [s.host for s in registry.sightings(shop_id=other.id)] == ["b.be"]


def test_a_host_that_keeps_coming_outlives_a_flood_of_new_ones(registry: Registry) -> None:
    """Space-saving: a newcomer replaces the smallest count, so junk cannot evict a regular."""
    shop = add(registry, "A", domains=("a.be",))
    registry.record_sightings(seen("referer", shop.id, {"copycat.example": (5, False)}))
    for round_ in range(5):
        junk = {
            f"j{round_}-{i}.example": Seen(1, False) for i in range(rules.MAX_SIGHTINGS_PER_SHOP)
        }
        registry.record_sightings({(shop.id, "referer"): junk})
        registry.record_sightings(seen("referer", shop.id, {"copycat.example": (2, False)}))
    rows = registry.sightings(shop_id=shop.id)
    assert len(rows) == rules.MAX_SIGHTINGS_PER_SHOP
    assert rows[0].host == "copycat.example"
    assert rows[0].count >= 15


# Reports


def test_reports_are_stored_listed_and_closed(registry: Registry) -> None:
    shop = add(registry)
    report = registry.add_report(
        rules.validate_report(shop.id, "https://Copycat.Example/shop", "copycat.example",
                              "  Same   logo, other prices ", "nl")
    )  # fmt: skip
    assert (report.host, report.referrer, report.note) == (
        "copycat.example",
        "copycat.example",
        "Same logo, other prices",
    )
    assert report.status == "open" and report.closed_at is None
    assert rules.is_report_id(report.id)
    assert registry.get_report(report.id) == report
    assert registry.reports(status="open") == [report]
    assert registry.reports(shop_id=shop.id) == [report]
    closed = registry.close_report(report.id, actor="cli:ops", resolution="asked host to remove")
    assert (closed.status, closed.closed_by, closed.resolution) == (
        "closed",
        "cli:ops",
        "asked host to remove",
    )
    assert closed.closed_at is not None
    assert registry.reports(status="open") == []
    assert registry.reports(status="closed") == [closed]
    with pytest.raises(Conflict, match="already closed"):
        registry.close_report(report.id, actor="t", resolution="again")
    with pytest.raises(NotFound):
        registry.close_report("r" + "a" * 16, actor="t", resolution="x")
    assert registry.get_report("nope") is None


def test_a_report_needs_a_real_shop_and_site(registry: Registry) -> None:
    shop = add(registry)
    with pytest.raises(NotFound):
        registry.add_report(rules.validate_report("a" * 16, "x.be", None, "", "en"))
    with pytest.raises(ValidationError, match="site"):
        rules.validate_report(shop.id, "not a host!", None, "", "en")
    with pytest.raises(ValidationError, match="note"):
        rules.validate_report(shop.id, "x.be", None, "x" * 1001, "en")
    ip = registry.add_report(
        rules.validate_report(shop.id, "http://127.0.0.2:8080/", None, "", "en")
    )
    assert ip.host == "127.0.0.2"


# Tokens


def test_tokens(registry: Registry) -> None:
    registry.add_token("crm", "d1")
    registry.add_token("ops", "d2")
    with pytest.raises(Conflict, match="'crm' already exists"):
        registry.add_token("crm", "d3")
    assert sorted(registry.token_digests()) == [("crm", "d1"), ("ops", "d2")]


# Dates


def test_valid_until_is_stored_as_date(registry: Registry) -> None:
    until = today() - timedelta(days=1)
    shop = add(registry, valid_until=until.isoformat())
    stored = registry.get_shop(shop.id)
    assert stored is not None
    assert stored.valid_until == until
    assert stored.public_state(today()) == "expired"
    assert stored.state == "certified"


# The validity rule, on the row as it will be written, inside the write transaction


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(
            {"valid_until": date(2023, 12, 31)},
            "valid_until 2023-12-31 is before certified_since 2024-01-01",
            id="until-before-stored-since",
        ),
        pytest.param(
            {"certified_since": date(2027, 1, 1)},
            "valid_until 2026-12-31 is before certified_since 2027-01-01",
            id="since-after-stored-until",
        ),
        pytest.param(
            {"certified_since": date(2025, 1, 1), "valid_until": date(2024, 12, 31)},
            "valid_until 2024-12-31 is before certified_since 2025-01-01",
            id="both",
        ),
    ],
)
def test_an_edit_cannot_end_validity_before_certification(
    registry: Registry, edit: dict[str, date], message: str
) -> None:
    shop = add(registry, valid_until="2026-12-31")
    cursor = registry.change_cursor()
    with pytest.raises(ValidationError, match=message):
        registry.update_shop(shop.id, actor="t", reason="typo", **edit)  # type: ignore[arg-type]
    assert registry.get_shop(shop.id) == shop
    assert len(registry.history(shop.id)) == 1
    assert registry.change_cursor() == cursor


def test_two_edits_that_each_pass_alone_are_checked_against_the_stored_row(
    registry: Registry,
) -> None:
    shop = add(registry, valid_until="2026-12-31")
    registry.update_shop(shop.id, actor="t", reason="shorter", valid_until=date(2025, 1, 1))
    # Alone, against the shop as it was, this was fine; against the stored row it is not.
    with pytest.raises(ValidationError, match="before certified_since 2025-06-01"):
        registry.update_shop(shop.id, actor="t", reason="r", certified_since=date(2025, 6, 1))
    stored = registry.get_shop(shop.id)
    assert stored is not None
    assert (stored.certified_since, stored.valid_until) == (date(2024, 1, 1), date(2025, 1, 1))


def test_a_registration_is_checked_in_the_registry_too(registry: Registry) -> None:
    # Built past rules.validate_new_shop, as a caller of the registry could.
    wrong = dataclasses.replace(new_shop(), valid_until=date(2023, 1, 1))
    with pytest.raises(ValidationError, match="before certified_since"):
        registry.create_shop(wrong, actor="t")
    assert registry.count_shops() == 0


def test_a_first_certification_after_validity_ended_is_refused(registry: Registry) -> None:
    """Certifying records today as certified_since; a valid_until already past would
    make a shop that ends before it starts."""
    shop = add(registry, state="suspended", valid_until="2025-01-01")
    assert shop.certified_since is None
    with pytest.raises(ValidationError, match="before certified_since"):
        registry.set_state(shop.id, "certified", reason="audit passed", actor="t")
    assert registry.get_shop(shop.id) == shop
    renewed = today() + timedelta(days=365)
    registry.update_shop(shop.id, actor="t", reason="renewal", valid_until=renewed)
    registry.set_state(shop.id, "certified", reason="audit passed", actor="t")
    assert registry.get_shop(shop.id).certified_since == today()  # type: ignore[union-attr]
