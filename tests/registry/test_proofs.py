"""Domain ownership proofs in the registry, on both backends: challenges, checks,
attestations, the history they leave, the change feed, and who checks what when."""

from __future__ import annotations

from datetime import timedelta

import pytest

from badge.errors import NotFound, ValidationError
from badge.registry import proofs
from badge.registry.base import Registry
from badge.registry.model import DomainStatus
from badge.registry.proofs import Outcome
from tests.registry.shops import add

DAY = timedelta(days=1)
WEEK = timedelta(days=7)
DNS_OK = Outcome("dns", "TXT record found", ad=True)
FILE_OK = Outcome("file", "file found")
FAILED = Outcome(None, "not proven: nothing there", ad=False)


def check(registry: Registry, shop_id: str, domain: str, outcome: Outcome) -> DomainStatus:
    proof, _ = registry.record_check(
        shop_id, domain, outcome, actor="test", interval=DAY, grace=WEEK
    )
    return proof.status


def test_a_new_domain_is_pending_with_its_own_challenge(registry: Registry) -> None:
    one = add(registry, domains=("een.be", "twee.be"))
    other = add(registry, "Ander", domains=("ander.be",))
    assert [(p.domain, p.state) for p in one.proofs] == [
        ("een.be", "pending"),
        ("twee.be", "pending"),
    ]
    tokens = {p.token for shop in (one, other) for p in registry.domain_proofs(shop.id)}
    assert len(tokens) == 3
    published = proofs.challenge("een.be", registry.domain_proof(one.id, "een.be").token)
    assert published["dns_name"] == "_keurmerk.een.be"
    assert published["dns_value"].startswith("keurmerk-site-verification=")
    assert published["http_url"] == "https://een.be/.well-known/keurmerk-badge.txt"
    assert published["http_body"] == published["dns_value"] + "\n"


def test_unknown_shop_or_domain_is_not_found(registry: Registry) -> None:
    shop = add(registry)
    with pytest.raises(NotFound, match="no shop"):
        registry.domain_proof("abcdefghijkmnpqr", "bakkerij-test.be")
    with pytest.raises(NotFound, match="not a registered domain"):
        registry.domain_proof(shop.id, "ander.be")
    with pytest.raises(NotFound, match="not a registered domain"):
        registry.attest_domain(shop.id, "ander.be", actor="t", reason="r")


def test_checks_move_the_proof_and_leave_history(registry: Registry) -> None:
    shop = add(registry)
    cursor = registry.change_cursor()
    assert check(registry, shop.id, "bakkerij-test.be", FAILED).state == "pending"
    # A failed check of a pending domain changes no badge: nothing in the change feed.
    assert registry.changes_since(cursor)[1] == []
    proven = check(registry, shop.id, "bakkerij-test.be", DNS_OK)
    assert (proven.state, proven.method) == ("proven", "dns")
    cursor, changed = registry.changes_since(cursor)
    assert changed == [shop.id]
    # Passing again keeps the date it was first proven.
    assert check(registry, shop.id, "bakkerij-test.be", DNS_OK) == proven
    lost = check(registry, shop.id, "bakkerij-test.be", FAILED)
    assert (lost.state, lost.method) == ("lost", "dns")
    assert registry.changes_since(cursor)[1] == [shop.id]
    assert check(registry, shop.id, "bakkerij-test.be", FILE_OK).method == "file"
    stored = registry.get_shop(shop.id)
    assert stored is not None and stored.proofs[0].method == "file"
    events = [e for e in registry.history(shop.id) if e.changes and "domain_proof" in e.changes]
    assert [
        (e.changes["domain_proof"]["from"], e.changes["domain_proof"]["to"]) for e in events
    ] == [  # type: ignore[index]
        ("pending", "pending"),
        ("pending", "proven (dns)"),
        ("proven (dns)", "proven (dns)"),
        ("proven (dns)", "lost (dns)"),
        ("lost (dns)", "proven (file)"),
    ]
    assert events[1].changes["domain_proof"]["ad"] is True  # type: ignore[index]
    assert {e.actor for e in events} == {"test"}
    assert all(e.to_state == e.from_state == "certified" for e in events)


def test_attestation_is_audited_and_a_failing_check_keeps_it(registry: Registry) -> None:
    shop = add(registry)
    with pytest.raises(ValidationError):
        registry.attest_domain(shop.id, "bakkerij-test.be", actor="cli:ops", reason="  ")
    proof, before = registry.attest_domain(
        shop.id, "Bakkerij-Test.be", actor="cli:ops", reason="signed letter of 2026-12-01"
    )
    assert before.state == "pending"
    assert (proof.status.state, proof.status.method, proof.attested_by) == (
        "proven",
        "attested",
        "cli:ops",
    )
    event = registry.history(shop.id)[-1]
    assert (event.actor, event.reason) == ("cli:ops", "signed letter of 2026-12-01")
    assert check(registry, shop.id, "bakkerij-test.be", FAILED).method == "attested"
    # A technical proof replaces the attestation.
    assert check(registry, shop.id, "bakkerij-test.be", DNS_OK).method == "dns"


def test_removing_a_domain_drops_its_proof(registry: Registry) -> None:
    shop = add(registry, domains=("een.be", "twee.be"))
    check(registry, shop.id, "een.be", DNS_OK)
    token = registry.domain_proof(shop.id, "een.be").token
    registry.update_shop(shop.id, actor="t", reason="r", domains=("twee.be",))
    registry.update_shop(shop.id, actor="t", reason="r", domains=("twee.be", "een.be"))
    again = registry.domain_proof(shop.id, "een.be")
    assert again.status.state == "pending"
    assert again.token != token


def test_due_checks_are_claimed_once(registry: Registry) -> None:
    shop = add(registry, domains=("een.be", "twee.be"))
    assert registry.claim_due_checks(limit=1) == [(shop.id, "een.be")]
    # Taken for the lease: another instance gets the other one, then nothing.
    assert registry.claim_due_checks() == [(shop.id, "twee.be")]
    assert registry.claim_due_checks() == []
    registry.record_check(
        shop.id, "een.be", FAILED, actor="t", interval=timedelta(seconds=0), grace=WEEK
    )
    assert registry.claim_due_checks() == [(shop.id, "een.be")]
    assert registry.proof_counts()["pending"] == 2


def test_a_lost_proof_is_checked_again_when_its_grace_ends(registry: Registry) -> None:
    shop = add(registry)
    check(registry, shop.id, "bakkerij-test.be", DNS_OK)
    proof, _ = registry.record_check(
        shop.id, "bakkerij-test.be", FAILED, actor="t", interval=DAY, grace=timedelta(hours=1)
    )
    assert proof.status.since is not None
    assert proof.next_check_at == proof.status.since + timedelta(hours=1)
    # The check at the end of the grace period tells the change feed, though the proof's
    # state stays `lost`: the badges change then.
    cursor = registry.change_cursor()
    registry.record_check(
        shop.id, "bakkerij-test.be", FAILED, actor="t", interval=DAY, grace=timedelta(0)
    )
    assert registry.changes_since(cursor)[1] == [shop.id]
