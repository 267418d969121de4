"""Real responses of a running app, checked against the schemas /openapi.json serves
(generated from badge/web/api_models.py): public JSON, lookups, badge checks, the admin API and
error bodies."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from starlette.testclient import TestClient

from badge.app import create_app
from badge.registry import rules
from badge.registry.model import Shop
from badge.registry.sqlite import SQLiteRegistry
from badge.settings import Settings
from tests.admin.test_api import TOKEN, new_shop_body

API = "/admin/api/v1"


@pytest.fixture
def client(registry: SQLiteRegistry, settings: Settings) -> Iterator[TestClient]:
    registry.add_token("crm", hashlib.sha256(TOKEN.encode()).hexdigest())
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/openapi.json").json()
    return body


def check(document: dict[str, Any], name: str, body: object) -> None:
    """`body` is valid against the named component, and names no property it lacks."""
    components = document["components"]
    schema = {"$ref": f"#/components/schemas/{name}", "components": components}
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, (name, errors)
    assert isinstance(body, dict)
    described = set(components["schemas"][name]["properties"])
    assert set(body) <= described, (name, sorted(set(body) - described))


def admin(client: TestClient, method: str, path: str, **kwargs: Any) -> Any:
    headers = {"authorization": f"Bearer {TOKEN}"}
    return client.request(method, f"{API}{path}", headers=headers, **kwargs)


def test_public_shop_document(client: TestClient, document: dict[str, Any], shop: Shop) -> None:
    response = client.get(f"/api/v1/shops/{shop.id}")
    assert response.status_code == 200
    check(document, "PublicShop", response.json())
    # The keys are the public contract: they stay as they are, in this order.
    assert list(response.json()) == [
        *("id", "display_name", "legal_name", "enterprise_number", "domains", "categories"),
        *("state", "state_since", "certified_now", "certified_since", "valid_until"),
        *("last_audit", "verify_url", "badge"),
    ]


def test_lookup(client: TestClient, document: dict[str, Any], shop: Shop) -> None:
    found = client.get("/api/v1/lookup", params={"domain": shop.domains[0]})
    assert found.status_code == 200
    check(document, "Lookup", found.json())
    missing = client.get("/api/v1/lookup", params={"domain": "nobody.example"})
    assert missing.status_code == 404
    check(document, "LookupMiss", missing.json())


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        pytest.param("GET", "/api/v1/lookup?domain=-", 400, id="lookup-400"),
        pytest.param("GET", "/api/v1/shops/aaaaaaaaaaaaaaaa", 404, id="shop-404"),
        pytest.param("GET", "/api/v1/nothing", 404, id="api-router-404"),
        pytest.param("GET", f"{API}/shops", 401, id="admin-401"),
    ],
)
def test_error_bodies(
    client: TestClient, document: dict[str, Any], method: str, path: str, status: int
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    check(document, "Error", response.json())


def test_verdicts(client: TestClient, document: dict[str, Any], shop: Shop) -> None:
    badge = client.get(f"/b/{shop.id}.svg").content
    genuine = client.post(
        "/api/v1/verify", content=badge, headers={"content-type": "image/svg+xml"}
    )
    assert genuine.status_code == 200
    assert genuine.json()["genuine"] is True
    check(document, "Verdict", genuine.json())
    refused = client.post("/api/v1/verify", json={"token": "not-a-token"})
    assert refused.status_code == 422
    check(document, "Verdict", refused.json())


def test_keys_and_readiness(client: TestClient, document: dict[str, Any]) -> None:
    check(document, "Jwks", client.get("/.well-known/jwks.json").json())
    check(document, "Readiness", client.get("/readyz").json())


def test_admin_shop_documents(client: TestClient, document: dict[str, Any]) -> None:
    created = admin(client, "POST", "/shops", json=new_shop_body())
    assert created.status_code == 201, created.text
    check(document, "Shop", created.json())
    shop_id = created.json()["id"]
    check(document, "ShopList", admin(client, "GET", "/shops").json())
    check(document, "Shop", admin(client, "GET", f"/shops/{shop_id}").json())
    patched = admin(client, "PATCH", f"/shops/{shop_id}", json={"name": "X", "reason": "typo"})
    assert patched.status_code == 200, patched.text
    check(document, "Shop", patched.json())
    changed = admin(
        client, "POST", f"/shops/{shop_id}/state", json={"state": "suspended", "reason": "audit"}
    )
    assert changed.status_code == 200, changed.text
    check(document, "StateChanged", changed.json())
    history = admin(client, "GET", f"/shops/{shop_id}/history").json()
    assert {event["changes"] is None for event in history["events"]} == {True, False}
    check(document, "History", history)
    refused = admin(client, "POST", "/shops", json=new_shop_body(colour="red"))
    assert refused.status_code == 400
    check(document, "Error", refused.json())


def test_admin_sightings_reports_and_summary(
    client: TestClient, document: dict[str, Any], registry: SQLiteRegistry, shop: Shop
) -> None:
    client.get(f"/b/{shop.id}.svg?d=elsewhere.example")
    report = registry.add_report(
        rules.validate_report(shop.id, "copycat.example", None, "looks fake", "en")
    )
    check(document, "ShopSightings", admin(client, "GET", f"/shops/{shop.id}/sightings").json())
    check(document, "Sightings", admin(client, "GET", "/sightings?unregistered=1").json())
    check(document, "Summary", admin(client, "GET", "/reports/summary").json())
    listed = admin(client, "GET", "/reports").json()
    assert [r["id"] for r in listed["reports"]] == [report.id]
    check(document, "Reports", listed)
    closed = admin(client, "POST", f"/reports/{report.id}/close", json={"resolution": "mailed"})
    assert closed.status_code == 200, closed.text
    check(document, "Report", closed.json())
