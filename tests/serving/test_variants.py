"""What a badge says (variants.decide): one table, from the live state, the query and the page."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from badge.registry.model import DomainStatus, Shop
from badge.serving import binding
from badge.serving.variants import (
    ERROR_TEXTS,
    SitePolicy,
    certifying_sites,
    decide,
    error_view,
    unknown_view,
)
from badge.vocabulary import PublicState

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SHOP = Shop(
    id="aaaaaaaaaaaaaaaa",
    display_name="Bakkerij Test",
    legal_name="Bakkerij Test BV",
    enterprise_number="0123.456.749",
    domains=("bakkerij-test.be", "xn--bcker-kva.be"),
    categories=("b2c_member", "sponsor"),
    state="certified",
    state_since=NOW,
    certified_since=date(2025, 1, 1),
    valid_until=date(2027, 1, 1),
    last_audit=None,
    created_at=NOW,
    updated_at=NOW,
)

# state, Referer class, `d` normalised -> site class, mark, status line (en), categories shown
TABLE = [
    ("certified", "bakkerij-test.be", None, "bakkerij-test.be", "certified", "Certified", True),
    ("certified", "xn--bcker-kva.be", None, "xn--bcker-kva.be", "certified", "Certified", True),
    ("certified", binding.OWN, None, binding.OWN, "certified", "Certified", True),
    ("certified", "copy.example", None, binding.MISMATCH, "mismatch", "Not valid", False),
    ("certified", "", None, binding.MISMATCH, "mismatch", "Not valid", False),
    ("certified", None, None, binding.LOOKUP, "lookup", "Check", False),
    ("certified", None, "copy.example", binding.MISMATCH, "mismatch", "Not valid", False),
    ("certified", "bakkerij-test.be", "copy.example", binding.MISMATCH, "mismatch", "Not", False),
    ("certified", "copy.example", "bakkerij-test.be", binding.MISMATCH, "mismatch", "Not", False),
    ("certified", "bakkerij-test.be", "", binding.MISMATCH, "mismatch", "Not valid", False),
    (
        "suspended",
        "bakkerij-test.be",
        None,
        binding.NOT_CERTIFIED,
        "neutral",
        "Not certified",
        False,
    ),
    ("suspended", None, None, binding.NOT_CERTIFIED, "neutral", "Not certified", False),
    ("revoked", "copy.example", "x.be", binding.NOT_CERTIFIED, "neutral", "Not certified", False),
    ("expired", "bakkerij-test.be", None, binding.NOT_CERTIFIED, "neutral", "Not certified", False),
]


@pytest.mark.parametrize(
    ("state", "referer", "claim", "site", "mark", "line", "bars"),
    TABLE,
    ids=[f"{row[0]}-{row[1]}-{row[2]}" for row in TABLE],
)
def test_decide(
    state: PublicState,
    referer: str | None,
    claim: str | None,
    site: str,
    mark: str,
    line: str,
    bars: bool,
) -> None:
    decision = decide(SHOP, state, "en", "m", referer, claim)
    assert decision.site == site
    assert decision.view.mark == mark
    assert decision.view.status_line.startswith(line), decision.view.status_line
    assert decision.view.categories == (SHOP.categories if bars else ())
    assert decision.view.shop_name == "Bakkerij Test"
    # Only a certified variant's label says "certified"; every other one says what it is.
    assert ("certified" in decision.view.label.lower().replace("not certified", "")) == (
        mark == "certified"
    ), decision.view.label


@pytest.mark.parametrize("lang", ["nl", "fr", "de", "en"])
def test_each_language_has_its_own_words(lang: str) -> None:
    views = {
        site: decide(SHOP, "certified", lang, "m", referer, None).view  # type: ignore[arg-type]
        for site, referer in [("own", "bakkerij-test.be"), ("foreign", "x.be"), ("none", None)]
    }
    assert all(view.lang == lang for view in views.values())
    # Three meanings, three different lines, in every language.
    assert len({view.status_line for view in views.values()}) == 3


def test_small_not_certified_uses_the_short_line() -> None:
    small = decide(SHOP, "suspended", "nl", "s", None, None).view
    medium = decide(SHOP, "suspended", "nl", "m", None, None).view
    assert len(small.status_line) < len(medium.status_line)


def test_unknown_and_error_views_name_nobody() -> None:
    unknown = unknown_view("fr", "l")
    assert (unknown.mark, unknown.size, unknown.shop_name) == ("neutral", "l", None)
    for kind, text in ERROR_TEXTS.items():
        view = error_view(kind, "de")
        assert (view.mark, view.status_line, view.shop_name) == ("error", text, None)
        assert text in view.label


# Which domains certify (variants.certifying_sites): the proof, the policy, the time.
LOST_AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
GRACE = timedelta(days=7)
D = "bakkerij-test.be"
SITES_TABLE = [
    pytest.param(DomainStatus(D, "pending"), True, {()}, None, id="pending"),
    pytest.param(DomainStatus(D, "proven", "dns", LOST_AT), True, {(D,)}, None, id="dns"),
    pytest.param(DomainStatus(D, "proven", "file", LOST_AT), True, {(D,)}, None, id="file"),
    pytest.param(DomainStatus(D, "proven", "attested", LOST_AT), False, {(D,)}, None, id="attest"),
    pytest.param(DomainStatus(D, "registered_before_proofs"), True, {(D,)}, None, id="before-on"),
    pytest.param(DomainStatus(D, "registered_before_proofs"), False, {()}, None, id="before-off"),
    pytest.param(
        DomainStatus(D, "lost", "dns", LOST_AT), True, {(D,)}, LOST_AT + GRACE, id="lost-in-grace"
    ),
    pytest.param(
        DomainStatus(D, "lost", "dns", LOST_AT - GRACE), True, {()}, None, id="lost-after-grace"
    ),
    pytest.param(
        DomainStatus(D, "lost", "file", NOW - GRACE), True, {()}, None, id="lost-grace-just-over"
    ),
]


@pytest.mark.parametrize(("status", "before_proofs", "sites", "changes"), SITES_TABLE)
def test_certifying_sites(
    status: DomainStatus,
    before_proofs: bool,
    sites: set[tuple[str, ...]],
    changes: datetime | None,
) -> None:
    other = DomainStatus("xn--bcker-kva.be", "pending")
    shop = replace(SHOP, proofs=(status, other))
    policy = SitePolicy(before_proofs=before_proofs, grace=GRACE)
    found, when = certifying_sites(shop, NOW, policy)
    assert {tuple(sorted(found))} == sites
    assert when == changes
    # What a page on that domain gets, through the same decision the hot path makes.
    expected = D if found else binding.MISMATCH
    assert decide(shop, "certified", "en", "m", D, None, found).site == expected
    assert binding.decide(True, found, D, None) == expected


def test_no_proofs_means_a_record_from_before_proofs() -> None:
    """An older instance's copy in Redis has no proofs: its domains are from before them."""
    found, _ = certifying_sites(SHOP, NOW, SitePolicy(before_proofs=True))
    assert found == frozenset(SHOP.domains)
    assert certifying_sites(SHOP, NOW, SitePolicy(before_proofs=False))[0] == frozenset()


def test_a_proof_for_a_removed_domain_certifies_nothing() -> None:
    shop = replace(SHOP, proofs=(DomainStatus("gone.be", "proven", "dns", NOW),))
    assert certifying_sites(shop, NOW, SitePolicy())[0] == frozenset()
