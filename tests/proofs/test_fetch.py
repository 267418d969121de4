"""The well-known file fetch and its limits, against a real HTTPS server with a test CA."""

from __future__ import annotations

import ipaddress
import time

import pytest

from badge.proofs.fetch import FetchRules, Refused, check_address, fetch_file
from badge.proofs.resolve import make_resolver
from badge.settings import Settings
from tests.proofservers import DnsServer, ProofCA, WebServer

pytestmark = pytest.mark.server

REFUSED = [
    pytest.param("127.0.0.1", "loopback", id="loopback"),
    pytest.param("127.8.9.10", "loopback", id="loopback-range"),
    pytest.param("::1", "loopback", id="loopback-v6"),
    pytest.param("::ffff:127.0.0.1", "loopback", id="v4-mapped-loopback"),
    pytest.param("10.1.2.3", "private", id="10/8"),
    pytest.param("172.16.5.4", "private", id="172.16/12"),
    pytest.param("192.168.1.1", "private", id="192.168/16"),
    pytest.param("::ffff:192.168.1.1", "private", id="v4-mapped-private"),
    pytest.param("fd12:3456::1", "private", id="ula-v6"),
    pytest.param("169.254.169.254", "link-local", id="cloud-metadata"),
    pytest.param("fe80::1", "link-local", id="link-local-v6"),
    pytest.param("100.64.0.1", "not a public", id="carrier-nat"),
    pytest.param("0.0.0.0", "private", id="unspecified"),
    pytest.param("224.0.0.1", "not a public", id="multicast"),
    pytest.param("192.0.2.10", "private", id="documentation"),
    pytest.param("240.0.0.1", "private", id="reserved"),
]


@pytest.mark.parametrize(("address", "why"), REFUSED)
def test_addresses_that_are_refused(address: str, why: str) -> None:
    with pytest.raises(Refused, match=why):
        check_address(ipaddress.ip_address(address), allow_loopback=False)


@pytest.mark.parametrize("address", ["93.184.215.14", "2a00:1450:4001:80b::200e"])
def test_public_addresses_pass(address: str) -> None:
    check_address(ipaddress.ip_address(address), allow_loopback=False)


def test_loopback_only_with_the_test_setting() -> None:
    check_address(ipaddress.ip_address("127.0.0.1"), allow_loopback=True)
    with pytest.raises(Refused, match="private"):
        check_address(ipaddress.ip_address("10.0.0.1"), allow_loopback=True)


def rules(server: WebServer, ca: ProofCA | None, **extra: bool) -> FetchRules:
    context = None if ca is None else ca.client_context()
    return FetchRules(allow_loopback=True, port=server.port, ssl_context=context, **extra)


@pytest.fixture(scope="module")
def resolver(dns_server: DnsServer):  # type: ignore[no-untyped-def]
    for host in ("shop.test", "big.test", "slow.test", "redirect.test", "wrong-cert.test"):
        dns_server.add(host, "A", "127.0.0.1")
    dns_server.add("mixed.test", "A", "127.0.0.1")
    dns_server.add("mixed.test", "A", "10.0.0.8")
    return make_resolver(Settings(dns_resolver=(dns_server.resolver,), dns_timeout=1.0))


def test_fetches_the_file_over_https(resolver, https_server: WebServer, test_ca: ProofCA) -> None:  # type: ignore[no-untyped-def]
    https_server.publish("shop.test", "keurmerk-site-verification=abc\n")
    assert fetch_file("shop.test", resolver, rules(https_server, test_ca)) == (
        "keurmerk-site-verification=abc\n"
    )


def test_a_loopback_address_is_refused_before_connecting(
    resolver, https_server: WebServer, test_ca: ProofCA
) -> None:  # type: ignore[no-untyped-def]
    strict = FetchRules(port=https_server.port, ssl_context=test_ca.client_context())
    with pytest.raises(Refused, match=r"127\.0\.0\.1 is a loopback address"):
        fetch_file("shop.test", resolver, strict)


def test_one_private_address_among_others_is_refused(
    resolver, https_server: WebServer, test_ca: ProofCA
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused, match=r"10\.0\.0\.8 is a private address"):
        fetch_file("mixed.test", resolver, rules(https_server, test_ca))


def test_a_redirect_to_another_host_is_refused(
    resolver, https_server: WebServer, test_ca: ProofCA
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused, match="redirect to another host"):
        fetch_file("redirect.test", resolver, rules(https_server, test_ca))


def test_more_than_4_kb_is_refused(resolver, https_server: WebServer, test_ca: ProofCA) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused, match="larger than 4096 bytes"):
        fetch_file("big.test", resolver, rules(https_server, test_ca))


def test_a_dribbling_server_is_cut_off_at_3_seconds(
    resolver, https_server: WebServer, test_ca: ProofCA
) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    with pytest.raises(Refused, match="took longer than 3 s"):
        fetch_file("slow.test", resolver, rules(https_server, test_ca))
    # It sends a byte every half second for 50 s: only the watchdog ends it this soon.
    assert time.monotonic() - started < 10


def test_a_certificate_for_another_host_is_refused(
    resolver, https_server: WebServer, test_ca: ProofCA
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused, match="certificate not valid"):
        fetch_file("wrong-cert.test", resolver, rules(https_server, test_ca))


def test_an_unknown_ca_is_refused(resolver, https_server: WebServer) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused, match="certificate not valid"):
        fetch_file("shop.test", resolver, FetchRules(allow_loopback=True, port=https_server.port))


def test_plain_http_only_with_the_test_setting(resolver, http_server: WebServer) -> None:  # type: ignore[no-untyped-def]
    http_server.publish("shop.test", "keurmerk-site-verification=plain\n")
    # HTTPS to a plain HTTP server: the TLS handshake fails.
    with pytest.raises(Refused, match="failed"):
        fetch_file("shop.test", resolver, rules(http_server, None))
    assert "plain" in fetch_file("shop.test", resolver, rules(http_server, None, allow_http=True))


def test_a_name_that_does_not_exist(resolver, https_server: WebServer) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused, match="does not exist"):
        fetch_file("nowhere.test", resolver, rules(https_server, None))
