"""badge.serving.query: a badge query string parsed, bounded and refused with a reason."""

from __future__ import annotations

import pytest

from badge.serving import query as badge_query
from badge.serving.query import BadgeQuery, BadRequestParam, Budget, lang_hint, parse_query


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(b"", BadgeQuery(), id="empty"),
        pytest.param(b"lang=fr&size=l", BadgeQuery("fr", "l"), id="lang-size"),
        pytest.param(b"scale=3&x=1", BadgeQuery(scale=3), id="unknown-ignored"),
        pytest.param(
            b"d=WWW.Shop.BE", BadgeQuery(host="www.shop.be", site="shop.be"), id="d-plain"
        ),
    ],
)
def test_queries_parse(raw: bytes, expected: BadgeQuery) -> None:
    assert badge_query.parse_query(raw, Budget(10)) == expected


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        pytest.param(b"lang=xx", "lang", id="lang"),
        pytest.param(b"size=xl", "size", id="size"),
        pytest.param(b"scale=4", "scale", id="scale"),
        pytest.param(b"d=", "d", id="d-empty"),
        pytest.param(b"d=" + b"a" * 254, "d", id="d-long"),
    ],
)
def test_bad_parameters_name_their_kind(raw: bytes, kind: str) -> None:
    with pytest.raises(BadRequestParam) as caught:
        badge_query.parse_query(raw, Budget(10))
    assert caught.value.kind == kind


def test_the_error_header_is_short_printable_ascii() -> None:
    with pytest.raises(BadRequestParam) as caught:
        badge_query.parse_query("lang=\x07日本語日本語日本語日本語".encode(), Budget(1))
    header = caught.value.header()
    assert header.isascii() and all(32 <= byte < 127 for byte in header)
    assert header.startswith(b"lang? (nl, fr, de, en) (got ")


def test_the_last_of_a_repeated_parameter_counts_as_the_service_reads_it() -> None:
    # The edge keeps the order of repeated parameters, so it gets this same answer.
    assert parse_query(b"lang=de&lang=fr", Budget(1)).lang == "fr"
    with pytest.raises(BadRequestParam):
        parse_query(b"lang=fr&lang=xx", Budget(1))


def test_a_percent_encoded_unicode_host_is_compared_in_its_ascii_form() -> None:
    parsed = parse_query(b"d=www.b%C3%BCcher.be", Budget(1))
    assert parsed.host == "www.bücher.be"
    assert parsed.site == "xn--bcher-kva.be" and parsed.final


def test_a_host_with_a_port_matches_its_domain() -> None:
    assert parse_query(b"d=Shop.BE%3A8080", Budget(1)).site == "shop.be"


def test_without_idna_budget_d_is_left_out_and_the_answer_is_not_final() -> None:
    parsed = parse_query(b"d=www.b%C3%BCcher.be", Budget(0))
    assert parsed.site is None and not parsed.final
    # A plain ASCII host needs no IDNA, so an empty budget does not matter.
    assert parse_query(b"d=shop.be", Budget(0)) == BadgeQuery(host="shop.be", site="shop.be")


def test_a_host_that_is_no_host_name_matches_nothing() -> None:
    assert parse_query(b"d=bad_host!!", Budget(1)).site == ""


def test_the_budget_refills_each_second(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.2]
    monkeypatch.setattr(badge_query, "_monotonic", lambda: now[0])
    budget = Budget(2)
    assert [budget.take() for _ in range(3)] == [True, True, False]
    now[0] = 100.9
    assert not budget.take()
    now[0] = 101.0
    assert budget.take()


@pytest.mark.parametrize(
    ("raw", "lang"),
    [
        (b"size=s&lang=fr", "fr"),
        (b"lang=zz", "nl"),
        (b"", "nl"),
        (b"xlang=de", "nl"),
    ],
)
def test_the_language_hint_for_an_error_badge(raw: bytes, lang: str) -> None:
    assert lang_hint(raw) == lang
