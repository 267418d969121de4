"""/openapi.json: a valid OpenAPI 3.1 document that describes every route the app serves."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import openapi_spec_validator
import pytest
from starlette.endpoints import HTTPEndpoint
from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient

from badge.app import create_app
from badge.settings import Settings
from badge.web.openapi import openapi_document

# Served by the pure-ASGI hot path (badge/serving/hotpath.py) before the router, so no Route
# has them.
HOT_PATH = {"/b/{}.svg": {"get"}, "/b/{}.png": {"get"}}


def normalise(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def served(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """(path, methods) for every route, with mounts flattened; a mounted app is `/{path}`."""
    for route in routes:
        if isinstance(route, Mount):
            if route.routes:
                yield from served(list(route.routes), prefix + route.path)
            else:
                yield prefix + route.path + "/{path}", {"get"}
        elif isinstance(route, Route):
            if isinstance(route.endpoint, type) and issubclass(route.endpoint, HTTPEndpoint):
                # Dispatched by method name (badge.app.endpoint).
                names = {"get", "post", "put", "patch", "delete", "options"}
                methods = {m for m in names if hasattr(route.endpoint, m)}
            else:
                methods = {m.lower() for m in (route.methods or {"GET"})} - {"head"}
            yield prefix + route.path, methods


@pytest.fixture
def document() -> dict[str, Any]:
    return openapi_document("https://badge.example")


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    openapi_spec_validator.validate(document)
    assert document["openapi"].startswith("3.1")


def test_every_route_is_documented(settings: Settings, document: dict[str, Any]) -> None:
    documented = {
        normalise(path): {m for m in item if m != "parameters"}
        for path, item in document["paths"].items()
    }
    app_routes: dict[str, set[str]] = dict(HOT_PATH)
    for path, methods in served(create_app(settings).routes):
        app_routes.setdefault(normalise(path), set()).update(methods)
    missing = {
        path: sorted(methods - documented.get(path, set()))
        for path, methods in app_routes.items()
        if methods - documented.get(path, set())
    }
    assert not missing, f"routes missing from badge/web/openapi.py: {missing}"
    unserved = sorted(set(documented) - set(app_routes))
    assert not unserved, f"documented in badge/web/openapi.py but not served: {unserved}"


def test_design_contract_paths_are_present(document: dict[str, Any]) -> None:
    for path in (
        "/b/{id}.svg",
        "/b/{id}.png",
        "/v/{id}",
        "/verify",
        "/api/v1/shops/{id}",
        "/api/v1/lookup",
        "/api/v1/verify",
        "/.well-known/jwks.json",
        "/embed.js",
        "/embed/{id}",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ):
        assert path in document["paths"], path
    admin = [p for p in document["paths"] if p.startswith("/admin/api/v1/")]
    # Shops, states, history, sightings, reports; and domain ownership (DESIGN.md).
    assert len(admin) == 15
    for path in (
        "/admin/api/v1/domains",
        "/admin/api/v1/shops/{id}/domains",
        "/admin/api/v1/shops/{id}/domains/{domain}/challenge",
        "/admin/api/v1/shops/{id}/domains/{domain}/check",
        "/admin/api/v1/shops/{id}/domains/{domain}/attest",
    ):
        assert path in admin, path
    for path in admin:
        for method, operation in document["paths"][path].items():
            if method != "parameters":
                assert operation["security"] == [{"adminToken": []}], (path, method)
                assert "401" in operation["responses"]


def test_served(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["servers"] == [{"url": "http://testserver"}]
    etag = response.headers["etag"]
    assert client.get("/openapi.json", headers={"if-none-match": etag}).status_code == 304
