"""Domain rules: enterprise numbers, domains, ids, states and derived expiry."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, timedelta

import pytest

from badge.errors import Conflict, ValidationError
from badge.registry import changes, rules
from badge.registry.model import Shop
from badge.vocabulary import CATEGORIES, STATES, State

TODAY = date(2026, 3, 15)


# Enterprise numbers (KBO/BCE)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("0123.456.749", "0123.456.749", id="canonical"),
        pytest.param("0123456749", "0123.456.749", id="bare-digits"),
        pytest.param("BE0123456749", "0123.456.749", id="be-prefix"),
        pytest.param("be 0123.456.749", "0123.456.749", id="be-prefix-lower-space"),
        pytest.param(" 0123 456 749 ", "0123.456.749", id="spaces"),
        pytest.param("0123-456-749", "0123.456.749", id="dashes"),
        pytest.param("123.456.749", "0123.456.749", id="nine-digit-legacy"),
        pytest.param("BE123456749", "0123.456.749", id="nine-digit-legacy-be"),
        # 09700000 mod 97 = 0 on purpose: the check digits are then 97, not 00.
        pytest.param("0970.000.097", "0970.000.097", id="check-97"),
    ],
)
def test_enterprise_number_accepted(raw: str, expected: str) -> None:
    assert rules.normalise_enterprise_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param("0123.456.748", "check digit", id="wrong-check-digit"),
        pytest.param("0123.456.794", "check digit", id="swapped-check-digits"),
        pytest.param("0123.465.749", "check digit", id="swapped-body-digits"),
        pytest.param("0970.000.000", "check digit", id="check-00-never-valid"),
        # 21234567 mod 97 = 6, so 91 would be the right check: only the first digit is wrong.
        pytest.param("2123.456.791", "start with 0 or 1", id="first-digit-2"),
        pytest.param("0123.456.74A", "only digits", id="letter"),
        pytest.param("ABCD.EFG.HIJ", "only digits", id="letters"),
        pytest.param("0123/456/749", "only digits", id="slashes"),
        pytest.param("٠١٢٣٤٥٦٧٤٩", "only digits", id="arabic-indic-digits"),
        pytest.param("", "only digits", id="empty"),
        pytest.param("12.345.674", "ten digits", id="eight-digits"),
        pytest.param("00123.456.749", "ten digits", id="eleven-digits"),
    ],
)
def test_enterprise_number_refused(raw: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rules.normalise_enterprise_number(raw)


def test_wrong_check_digit_says_which_is_expected() -> None:
    with pytest.raises(ValidationError, match=r"expected 49"):
        rules.normalise_enterprise_number("0123.456.700")


# Domains


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("https://WWW.Shop.BE/some/path", "shop.be", id="url-www-upper-path"),
        pytest.param("shop.be", "shop.be", id="plain"),
        pytest.param("  Shop.BE  ", "shop.be", id="whitespace-and-case"),
        pytest.param("shop.be.", "shop.be", id="trailing-dot"),
        pytest.param("shop.be:8443", "shop.be", id="port"),
        pytest.param("http://shop.be:80/", "shop.be", id="url-with-port"),
        pytest.param("www.shop.be.:443/x?y=1#z", "shop.be", id="www-dot-port-path-query"),
        pytest.param("bücher.be", "xn--bcher-kva.be", id="idn"),
        pytest.param("WWW.BÜCHER.BE", "xn--bcher-kva.be", id="idn-upper-www"),
        pytest.param("xn--bcher-kva.be", "xn--bcher-kva.be", id="already-punycode"),
        pytest.param("XN--BCHER-KVA.BE", "xn--bcher-kva.be", id="punycode-upper"),
        pytest.param("www.shop.be", "shop.be", id="www-stripped"),
        pytest.param("www2.shop.be", "www2.shop.be", id="www2-kept"),
        pytest.param("wwwshop.be", "wwwshop.be", id="www-prefix-not-a-label"),
        pytest.param("shop.www.be", "shop.www.be", id="www-not-leading"),
        pytest.param("fr.shop.be", "fr.shop.be", id="subdomain-kept"),
        pytest.param("www.be", "www.be", id="www-only-two-labels-stays"),
        pytest.param("my-shop.co.uk", "my-shop.co.uk", id="hyphen-and-sld"),
        pytest.param("a" * 63 + ".be", "a" * 63 + ".be", id="label-63"),
        pytest.param("shop\u3002be", "shop.be", id="ideographic-full-stop"),
    ],
)
def test_domain_normalised(raw: str, expected: str) -> None:
    assert rules.normalise_domain(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param("", "empty", id="empty"),
        pytest.param("   ", "empty", id="blank"),
        pytest.param("127.0.0.1", "IP address", id="ipv4"),
        pytest.param("http://192.168.1.10:8080/", "IP address", id="ipv4-url"),
        pytest.param("[::1]", "IP address", id="ipv6"),
        pytest.param("http://[2001:db8::1]/", "IP address", id="ipv6-url"),
        pytest.param("localhost", "at least a name", id="localhost-one-label"),
        pytest.param("be", "at least a name", id="tld-only"),
        pytest.param("sh op.be", "space, control or invisible", id="inner-space"),
        pytest.param("shop_x.be", "U\\+005F", id="underscore"),
        pytest.param("_dmarc.shop.be", "U\\+005F", id="leading-underscore-label"),
        pytest.param("a" * 64 + ".be", "too long", id="label-64"),
        pytest.param(".".join(["a" * 60] * 5) + ".be", "too long", id="name-over-253"),
        pytest.param("x" * 3000, "too long", id="absurd-length"),
        pytest.param("shop..be", "not a valid domain", id="empty-label"),
        pytest.param("-shop.be", "hyphen", id="leading-hyphen"),
        pytest.param("shop.b3", "top-level", id="digit-tld"),
        pytest.param("1.2.3", "top-level", id="numeric-tld"),
        pytest.param("xn--zz.be", "not a valid domain", id="bad-punycode"),
        pytest.param("http://", "not a host name", id="scheme-only"),
        pytest.param("shop.be<script>", "not a valid domain", id="markup"),
    ],
)
def test_domain_refused(raw: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rules.normalise_domain(raw)
    assert rules.try_normalise_domain(raw) is None


def test_unicode_domain_round_trip() -> None:
    assert rules.unicode_domain("xn--bcher-kva.be") == "bücher.be"
    assert rules.unicode_domain("shop.be") == "shop.be"


def test_normalise_domains_dedupes_and_keeps_order() -> None:
    got = rules.normalise_domains(["B.be", "a.be", "www.b.be", "https://a.be/x"])
    assert got == ("b.be", "a.be")


def test_normalise_domains_needs_one_and_bounds_count() -> None:
    with pytest.raises(ValidationError, match="at least one"):
        rules.normalise_domains([])
    many = [f"shop{i}.be" for i in range(rules.MAX_DOMAINS + 1)]
    with pytest.raises(ValidationError, match="at most"):
        rules.normalise_domains(many)
    assert len(rules.normalise_domains(many[:-1])) == rules.MAX_DOMAINS


# Ids

_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"


def _as_int(shop_id: str) -> int:
    value = 0
    for ch in shop_id:
        value = value * 32 + _ALPHABET.index(ch)
    return value


def test_ids_are_url_safe_and_fixed_length() -> None:
    for _ in range(200):
        shop_id = rules.new_shop_id()
        assert re.fullmatch(r"[a-z2-9]{16}", shop_id), shop_id
        assert not set(shop_id) & set("lo01"), "look-alike characters"
        assert rules.is_shop_id(shop_id)


def test_ids_are_unique_and_not_sequential() -> None:
    ids = [rules.new_shop_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    numbers = sorted(_as_int(i) for i in ids)
    gaps = [b - a for a, b in itertools.pairwise(numbers)]
    assert min(gaps) > 1
    # Random 80-bit ids spread over the whole space, not a narrow counter range.
    assert numbers[0] < 32**16 // 100 and numbers[-1] > 32**16 * 99 // 100


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("abcdefghijkmnpq", id="15-chars"),
        pytest.param("abcdefghijkmnpqrs", id="17-chars"),
        pytest.param("ABCDEFGHIJKMNPQR", id="upper"),
        pytest.param("abcdefghijklmnop", id="contains-l-and-o"),
        pytest.param("../../etc/passwd", id="path"),
        pytest.param("abcdefghijkmnpq\n", id="trailing-newline"),
    ],
)
def test_is_shop_id_refuses(value: str) -> None:
    assert not rules.is_shop_id(value)


# States and transitions

ALLOWED = {
    ("certified", "suspended"),
    ("certified", "revoked"),
    ("suspended", "certified"),
    ("suspended", "revoked"),
    ("revoked", "certified"),
}


@pytest.mark.parametrize(
    ("current", "target"),
    [pytest.param(a, b, id=f"{a}->{b}") for a in STATES for b in STATES],
)
def test_transition_table(current: State, target: State) -> None:
    if (current, target) in ALLOWED:
        changes.check_transition(current, target)
        return
    match = "already" if current == target else "cannot become"
    with pytest.raises(Conflict, match=match):
        changes.check_transition(current, target)


def test_revoked_cannot_be_suspended() -> None:
    with pytest.raises(Conflict, match="a revoked shop cannot become suspended"):
        changes.check_transition("revoked", "suspended")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("certified", "certified", id="certified"),
        pytest.param(" Suspended ", "suspended", id="case-and-space"),
        pytest.param("REVOKED", "revoked", id="upper"),
    ],
)
def test_parse_state(raw: str, expected: str) -> None:
    assert rules.parse_state(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param("expired", "derived from valid_until", id="expired"),
        pytest.param("Expired", "derived from valid_until", id="expired-upper"),
        pytest.param("unknown", "unknown state", id="unknown"),
        pytest.param("active", "unknown state", id="made-up"),
        pytest.param("", "unknown state", id="empty"),
    ],
)
def test_parse_state_refuses(raw: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rules.parse_state(raw)


def test_categories_parsed_deduped_in_seed_order() -> None:
    assert rules.parse_category("B2C-Member") == "b2c_member"
    got = rules.parse_categories(["sponsor", "b2c_member", "SPONSOR", "webshop-partner"])
    assert got == ("b2c_member", "webshop_partner", "sponsor")
    assert set(rules.parse_categories(CATEGORIES)) == set(CATEGORIES)
    with pytest.raises(ValidationError, match="unknown category 'gold'"):
        rules.parse_category("gold")


def test_parse_date() -> None:
    assert rules.parse_date("2027-12-31", "valid_until") == date(2027, 12, 31)
    assert rules.parse_date(None, "valid_until") is None
    assert rules.parse_date("  ", "valid_until") is None
    for bad in ("31/12/2027", "2027-02-30", "tomorrow"):
        with pytest.raises(ValidationError, match="valid_until"):
            rules.parse_date(bad, "valid_until")


def test_clean_text() -> None:
    assert rules.clean_text("  Bakkerij \n  Test ", "name") == "Bakkerij Test"
    with pytest.raises(ValidationError, match="name is empty"):
        rules.clean_text(" \t ", "name")
    with pytest.raises(ValidationError, match="longer than"):
        rules.clean_text("x" * (rules.MAX_NAME + 1), "name")
    with pytest.raises(ValidationError, match="control characters"):
        rules.clean_text("Shop\x00Evil", "name")
    with pytest.raises(ValidationError, match="control characters"):
        rules.clean_text("Shop\x9bEvil", "name")
    with pytest.raises(ValidationError, match="not valid Unicode"):
        rules.clean_text("Shop\udcff", "name")
    # Markup is text, escaped where it is shown, not refused here.
    assert rules.clean_text("<b>Shop</b> & Co", "name") == "<b>Shop</b> & Co"


# validate_new_shop


def _valid(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "display_name": "Bakkerij Test",
        "legal_name": "Bakkerij Test BV",
        "enterprise_number": "BE0123456749",
        "domains": ["https://www.Bakkerij-Test.be/"],
        "categories": ["sponsor", "b2c_member"],
        "today": TODAY,
    }
    base.update(overrides)
    return base


def test_validate_new_shop_normalises_everything() -> None:
    new = rules.validate_new_shop(**_valid(valid_until="2027-01-01"))  # type: ignore[arg-type]
    assert new.enterprise_number == "0123.456.749"
    assert new.domains == ("bakkerij-test.be",)
    assert new.categories == ("b2c_member", "sponsor")
    assert new.state == "certified"
    assert new.certified_since == TODAY  # defaults to today for a certified shop
    assert new.valid_until == date(2027, 1, 1)
    assert new.last_audit is None


def test_validate_new_shop_suspended_has_no_default_since() -> None:
    new = rules.validate_new_shop(**_valid(state="suspended"))  # type: ignore[arg-type]
    assert new.state == "suspended"
    assert new.certified_since is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"state": "expired"}, "cannot be set", id="expired-state"),
        pytest.param({"state": "gold"}, "unknown state", id="unknown-state"),
        pytest.param({"enterprise_number": "0123.456.748"}, "check digit", id="bad-kbo"),
        pytest.param({"domains": ["localhost"]}, "at least a name", id="bad-domain"),
        pytest.param({"domains": []}, "at least one", id="no-domain"),
        pytest.param({"categories": ["gold"]}, "unknown category", id="bad-category"),
        pytest.param({"display_name": ""}, "name is empty", id="empty-name"),
        pytest.param({"valid_until": "2027-13-01"}, "valid_until", id="bad-date"),
        pytest.param(
            {"certified_since": "2026-01-02", "valid_until": "2026-01-01"},
            "before certified_since",
            id="until-before-since",
        ),
    ],
)
def test_validate_new_shop_refuses(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        rules.validate_new_shop(**_valid(**overrides))  # type: ignore[arg-type]


# Derived expiry


def _shop(state: State, valid_until: date | None) -> Shop:
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    return Shop(
        id="abcdefghijkmnpqr",
        display_name="Shop",
        legal_name="Shop BV",
        enterprise_number="0123.456.749",
        domains=("shop.be",),
        categories=(),
        state=state,
        state_since=moment,
        certified_since=date(2025, 1, 1),
        valid_until=valid_until,
        last_audit=None,
        created_at=moment,
        updated_at=moment,
    )


@pytest.mark.parametrize(
    ("state", "valid_until", "expected"),
    [
        pytest.param("certified", TODAY - timedelta(days=1), "expired", id="certified-yesterday"),
        pytest.param("certified", TODAY, "certified", id="certified-today-still-valid"),
        pytest.param("certified", TODAY + timedelta(days=1), "certified", id="certified-future"),
        pytest.param("certified", None, "certified", id="certified-no-end"),
        pytest.param("suspended", TODAY - timedelta(days=30), "suspended", id="suspended-past"),
        pytest.param("revoked", TODAY - timedelta(days=30), "revoked", id="revoked-past"),
        pytest.param("suspended", TODAY + timedelta(days=30), "suspended", id="suspended-future"),
    ],
)
def test_public_state_derives_expiry(state: State, valid_until: date | None, expected: str) -> None:
    shop = _shop(state, valid_until)
    assert shop.public_state(TODAY) == expected
    data = shop.to_json(TODAY)
    assert data["state"] == expected
    assert data["stored_state"] == state
