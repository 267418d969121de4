"""One ownership check end to end: a real DNS server, a real HTTPS server, the registry."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import pytest

from badge.proofs import job
from badge.proofs.check import Checker
from badge.registry.proofs import challenge_value
from badge.registry.sqlite import SQLiteRegistry
from badge.settings import Secret, Settings
from tests.conftest import add_shop
from tests.proofservers import DnsServer, ProofCA, WebServer
from tests.servers import free_port

pytestmark = pytest.mark.server


@pytest.fixture
def setup(
    workdir: Path, dns_server: DnsServer, https_server: WebServer, test_ca: ProofCA
) -> tuple[SQLiteRegistry, Checker]:
    settings = Settings(
        database_url=Secret(f"sqlite:///{workdir / 'badge.db'}"),
        keys_dir=workdir / "keys",
        dns_resolver=(dns_server.resolver,),
        dns_timeout=1.0,
        proof_allow_loopback=True,
        proof_file_port=https_server.port,
    )
    registry = SQLiteRegistry(workdir / "badge.db")
    return registry, Checker(settings, ssl_context=test_ca.client_context())


def test_dns_proof_records_the_ad_flag(setup, dns_server: DnsServer) -> None:  # type: ignore[no-untyped-def]
    registry, checker = setup
    shop = add_shop(registry, domains=("signed.test",), attest=False)
    token = registry.domain_proof(shop.id, "signed.test").token
    dns_server.add("_keurmerk.signed.test", "TXT", "v=spf1 -all")
    dns_server.add("_keurmerk.signed.test", "TXT", challenge_value(token))
    dns_server.sign("_keurmerk.signed.test")
    checked = checker.check(registry, shop.id, "signed.test", actor="test")
    assert (checked.proof.status.state, checked.proof.status.method) == ("proven", "dns")
    assert checked.proof.ad is True
    assert "DNSSEC validated" in (checked.proof.result or "")
    assert registry.history(shop.id)[-1].changes["domain_proof"]["ad"] is True  # type: ignore[index]


def test_file_proof_over_https(setup, dns_server: DnsServer, https_server: WebServer) -> None:  # type: ignore[no-untyped-def]
    registry, checker = setup
    shop = add_shop(registry, domains=("shop.test",), attest=False)
    token = registry.domain_proof(shop.id, "shop.test").token
    dns_server.add("shop.test", "A", "127.0.0.1")
    https_server.publish("shop.test", "other text\n" + challenge_value(token) + "\n")
    checked = checker.check(registry, shop.id, "shop.test", actor="test")
    assert (checked.proof.status.state, checked.proof.status.method) == ("proven", "file")
    # Another shop's challenge for the same site proves nothing: it is bound to both.
    https_server.publish("shop.test", challenge_value("0" * 40) + "\n")
    checked = checker.check(registry, shop.id, "shop.test", actor="test")
    assert checked.proof.status.state == "lost"
    assert "does not hold the challenge" in (checked.proof.result or "")


def test_a_dead_resolver_times_out(workdir: Path) -> None:
    settings = Settings(dns_resolver=(f"127.0.0.1:{free_port()}",), dns_timeout=0.3)
    outcome = Checker(settings).probe("shop.test", "0" * 40)
    assert not outcome.proven
    assert "timed out" in outcome.detail


def test_the_job_checks_what_is_due_and_logs_a_loss_once(
    setup,
    dns_server: DnsServer,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    registry, checker = setup
    shop = add_shop(registry, domains=("job.test",), attest=False)
    token = registry.domain_proof(shop.id, "job.test").token
    dns_server.add("_keurmerk.job.test", "TXT", challenge_value(token))
    told: list[str] = []

    async def changed(shop_id: str) -> None:
        told.append(shop_id)

    assert anyio.run(job.run_once, registry, checker, changed) is True
    assert told == [shop.id]
    assert registry.domain_proof(shop.id, "job.test").status.state == "proven"
    # Not due again for a day: the next pass finds nothing to do.
    assert anyio.run(job.run_once, registry, checker, changed) is False
    dns_server.remove("_keurmerk.job.test", "TXT")
    with caplog.at_level(logging.WARNING, logger="badge"):
        checker.check(registry, shop.id, "job.test", actor="test")
        checker.check(registry, shop.id, "job.test", actor="test")
    lost = [r for r in caplog.records if "ownership proof LOST" in r.getMessage()]
    assert len(lost) == 1
    assert checker.stats.lost == 1
    assert checker.stats.states == {
        "pending": 0,
        "proven": 1,
        "lost": 0,
        "registered_before_proofs": 0,
    }
