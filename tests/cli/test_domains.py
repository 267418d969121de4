"""`badge domains` against a running service: a shop's website goes from pending to proven
(DNS, in a real DNS server) to lost, and the badge follows within a second.

Run with `-s` to read the story as it happens; it is the one the README tells.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.proofservers import DnsServer
from tests.servers import Service, cli, get, service_env, token_claims, wait_for

pytestmark = pytest.mark.server

DOMAIN = "proof-story.be"
GRACE = 3


@pytest.fixture
def dns_server(tmp_path: Path) -> Iterator[DnsServer]:
    server = DnsServer(tmp_path)
    yield server
    server.stop()


def variant(service: Service, shop_id: str) -> str:
    """What the badge says on the shop's own site: its signed `variant` claim."""
    status, body, _ = get(
        f"{service.base}/b/{shop_id}.svg", headers={"Referer": f"https://{DOMAIN}/"}, timeout=2
    )
    claims = token_claims(body) if status == 200 else None
    return "none" if claims is None else str(claims.get("variant"))


def say(text: str) -> None:
    print(f"\n== {text}")


def run(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = cli(env, *args)
    print(f"$ badge {' '.join(args)}  (exit {result.returncode})\n{result.stdout.rstrip()}")
    if result.stderr.strip():
        print(result.stderr.rstrip())
    assert result.returncode == code, result.stderr
    return result.stdout


def test_pending_proven_lost(tmp_path: Path, dns_server: DnsServer) -> None:
    env = service_env(
        tmp_path,
        BADGE_DNS_RESOLVER=dns_server.resolver,
        BADGE_DNS_TIMEOUT="1",
        BADGE_DOMAIN_LOST_GRACE=str(GRACE),
    )
    say("1. a shop is added: its domain is pending, its badge there is not certified")
    added = run(
        env, "shops", "add", "--name", "Proof Story", "--legal-name", "Proof Story BV",
        "--enterprise-number", "0123.456.749", "--domain", DOMAIN,
    )  # fmt: skip
    shop_id = added.strip().splitlines()[-1]
    assert "pending" in run(env, "domains", "list", "--attention")
    service = Service(env)
    service.start()
    try:
        assert variant(service, shop_id) == "mismatch"
        print(f"badge with Referer https://{DOMAIN}/: variant={variant(service, shop_id)}")

        say("2. the TXT record is published; `badge domains check` proves it")
        published = json.loads(run(env, "domains", "challenge", shop_id, DOMAIN, "--json"))
        assert set(published) == {"dns_name", "dns_value", "http_url", "http_body"}
        dns_server.add(published["dns_name"], "TXT", published["dns_value"])
        assert "proven (dns)" in run(env, "domains", "check", shop_id)
        checked = time.monotonic()
        wait_for(lambda: variant(service, shop_id) == "certified", 1.0, "the certified badge")
        print(f"badge certified {time.monotonic() - checked:.2f} s after the check ended")

        say("3. the record is removed: the check finds the proof lost")
        dns_server.remove(published["dns_name"], "TXT")
        assert "lost (dns)" in run(env, "domains", "check", shop_id, DOMAIN, code=1)
        lost = time.monotonic()
        # Within the grace period the badge stays certified; then it is not.
        assert variant(service, shop_id) == "certified"
        print(f"badge during the {GRACE} s grace period: variant={variant(service, shop_id)}")
        wait_for(lambda: variant(service, shop_id) == "mismatch", GRACE + 2, "the grace end")
        print(f"badge {time.monotonic() - lost:.2f} s after the loss: variant=mismatch")
        history = json.loads(run(env, "shops", "show", shop_id, "--json"))["history"]
        proofs = [e["changes"]["domain_proof"] for e in history if e["changes"]]
        assert [(p["from"], p["to"]) for p in proofs] == [
            ("pending", "proven (dns)"),
            ("proven (dns)", "lost (dns)"),
        ]
    finally:
        service.stop()


def test_attest_and_challenge_errors(tmp_path: Path) -> None:
    env = service_env(tmp_path)
    added = cli(
        env, "shops", "add", "--name", "Attest", "--legal-name", "Attest BV",
        "--enterprise-number", "0123.456.749", "--domain", "attest.be",
    )  # fmt: skip
    shop_id = added.stdout.strip().splitlines()[-1]
    missing = cli(env, "domains", "attest", shop_id, "attest.be")
    assert missing.returncode == 2 and "--reason" in missing.stderr
    done = cli(env, "domains", "attest", shop_id, "attest.be", "--reason", "registrar's records")
    assert done.returncode == 0, done.stderr
    assert "pending -> proven (attested)" in done.stdout
    listed = json.loads(cli(env, "domains", "list", "--json").stdout)
    assert [(p["domain"], p["method"], p["note"]) for p in listed] == [
        ("attest.be", "attested", "registrar's records")
    ]
    assert cli(env, "domains", "list", "--attention").stdout == ""
    other = cli(env, "domains", "challenge", shop_id, "other.be")
    assert other.returncode == 1
    assert "other.be is not a registered domain of shop" in other.stderr
    unknown = cli(env, "domains", "check", "abcdefghijkmnpqr")
    assert unknown.returncode == 1 and "no shop" in unknown.stderr
