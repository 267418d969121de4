"""What a badge says (variants.decide): one table, from the live state, the query and the page."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from badge.registry.model import Shop
from badge.serving import binding
from badge.serving.variants import ERROR_TEXTS, decide, error_view, unknown_view
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
