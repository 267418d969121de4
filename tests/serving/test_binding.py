"""What a badge says about the page that shows it (binding.py)."""

from __future__ import annotations

import pytest

from badge.serving import binding

DOMAINS = frozenset({"shop.be", "xn--bcher-kva.be"})

# certified?, Referer class, `d` normalised, expected site class
DECISIONS = [
    pytest.param(True, "shop.be", None, "shop.be", id="own-domain"),
    pytest.param(True, "xn--bcher-kva.be", None, "xn--bcher-kva.be", id="own-idn"),
    pytest.param(True, binding.OWN, None, binding.OWN, id="our-own-pages"),
    pytest.param(True, "copy.example", None, binding.MISMATCH, id="foreign"),
    pytest.param(True, "", None, binding.MISMATCH, id="unreadable-referer"),
    pytest.param(True, None, None, binding.LOOKUP, id="no-referer"),
    pytest.param(True, None, "shop.be", binding.LOOKUP, id="no-referer-d-registered"),
    pytest.param(True, None, "copy.example", binding.MISMATCH, id="no-referer-d-foreign"),
    pytest.param(True, "copy.example", "shop.be", binding.MISMATCH, id="d-cannot-raise"),
    pytest.param(True, "shop.be", "copy.example", binding.MISMATCH, id="d-lowers"),
    pytest.param(True, "shop.be", "", binding.MISMATCH, id="d-not-a-host"),
    pytest.param(True, "shop.be", "shop.be", "shop.be", id="d-agrees"),
    pytest.param(True, binding.OWN, "copy.example", binding.MISMATCH, id="own-page-d-foreign"),
    pytest.param(False, "shop.be", None, binding.NOT_CERTIFIED, id="suspended-own"),
    pytest.param(False, None, None, binding.NOT_CERTIFIED, id="suspended-none"),
    pytest.param(False, "copy.example", "x", binding.NOT_CERTIFIED, id="suspended-foreign"),
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
    assert binding.variant_claims(binding.LOOKUP, "x") == {"variant": "neutral"}
    assert binding.variant_claims(binding.NOT_CERTIFIED, "x") == {"variant": "not_certified"}
