"""The admin API for domain ownership, against the real app and a real DNS server."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from badge.app import create_app
from badge.registry.sqlite import SQLiteRegistry
from badge.settings import Settings
from tests.admin.test_api import API, TOKEN, digest
from tests.conftest import add_shop
from tests.proofservers import DnsServer
from tests.servers import token_claims

pytestmark = pytest.mark.server  # it starts a DNS server


@pytest.fixture
def dns_server(tmp_path: Path) -> Iterator[DnsServer]:
    server = DnsServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def api(
    registry: SQLiteRegistry, settings: Settings, dns_server: DnsServer
) -> Iterator[TestClient]:
    registry.add_token("crm", digest(TOKEN))
    settings = dataclasses.replace(
        settings, dns_resolver=(dns_server.resolver,), dns_timeout=1.0, domain_lost_grace=0
    )
    with TestClient(create_app(settings)) as client:
        client.headers["authorization"] = f"Bearer {TOKEN}"
        yield client


def variant(client: TestClient, shop_id: str, site: str) -> object:
    response = client.get(f"/b/{shop_id}.svg", headers={"referer": f"https://{site}/"})
    claims = token_claims(response.content)
    return None if claims is None else claims.get("variant")


def test_challenge_check_and_loss(
    api: TestClient, registry: SQLiteRegistry, dns_server: DnsServer
) -> None:
    shop = add_shop(registry, domains=("api-proof.be",), attest=False)
    base = f"{API}/shops/{shop.id}/domains"
    listed = api.get(f"{API}/domains", params={"attention": "1"}).json()["domains"]
    assert [(p["domain"], p["state"]) for p in listed] == [("api-proof.be", "pending")]
    assert variant(api, shop.id, "api-proof.be") == "mismatch"
    published = api.get(f"{base}/api-proof.be/challenge").json()
    assert set(published) == {"dns_name", "dns_value", "http_url", "http_body"}
    failed = api.post(f"{base}/api-proof.be/check")
    assert failed.status_code == 200
    assert (failed.json()["proven"], failed.json()["changed"]) == (False, False)
    dns_server.add(published["dns_name"], "TXT", published["dns_value"])
    proven = api.post(f"{base}/api-proof.be/check").json()
    assert (proven["proven"], proven["domain"]["method"]) == (True, "dns")
    # This instance serves the new verdict on its next request.
    assert variant(api, shop.id, "api-proof.be") == "certified"
    assert api.get(f"{API}/domains", params={"attention": "1"}).json()["domains"] == []
    dns_server.remove(published["dns_name"], "TXT")
    lost = api.post(f"{base}/api-proof.be/check").json()
    assert (lost["proven"], lost["domain"]["state"]) == (False, "lost")
    # No grace here (BADGE_DOMAIN_LOST_GRACE=0): the badge says so at once.
    assert variant(api, shop.id, "api-proof.be") == "mismatch"
    metrics = api.get("/metrics").text
    assert "badge_domain_proofs_lost_total 1.0" in metrics
    assert 'badge_domain_checks_total{result="failed"} 2.0' in metrics
    events = api.get(f"{API}/shops/{shop.id}/history").json()["events"]
    assert [e["actor"] for e in events[-3:]] == ["api:crm"] * 3


def test_attest(api: TestClient, registry: SQLiteRegistry) -> None:
    shop = add_shop(registry, domains=("attest-api.be",), attest=False)
    url = f"{API}/shops/{shop.id}/domains/attest-api.be/attest"
    assert api.post(url, json={}).status_code == 400
    assert api.post(url, json={"reason": "   "}).status_code == 400
    done = api.post(url, json={"reason": "signed letter, 2026-12-01"})
    assert done.status_code == 200
    body = done.json()
    assert (body["state"], body["method"], body["attested_by"]) == ("proven", "attested", "api:crm")
    assert body["note"] == "signed letter, 2026-12-01"
    assert variant(api, shop.id, "attest-api.be") == "certified"
    page = api.get(f"/v/{shop.id}", params={"lang": "en"}).text
    assert "Ownership confirmed by BeCommerce on" in page
    assert "signed letter, 2026-12-01" in page


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/shops/abcdefghijkmnpqr/domains/x.be/challenge", id="unknown-shop"),
        pytest.param("/shops/{id}/domains/other.be/challenge", id="other-domain"),
        pytest.param("/shops/{id}/domains/not_a_host/challenge", id="not-a-host"),
    ],
)
def test_unknown_is_404(api: TestClient, registry: SQLiteRegistry, path: str) -> None:
    shop = add_shop(registry)
    response = api.get(API + path.replace("{id}", shop.id))
    assert response.status_code == 404
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("odd", ["\n", "2", "Yes", " 1"])
def test_attention_takes_only_the_documented_spellings(api: TestClient, odd: str) -> None:
    refused = api.get(f"{API}/domains", params={"attention": odd})
    assert refused.status_code == 400
    assert "attention must be 1 or 0" in refused.text
