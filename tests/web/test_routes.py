"""badge.web.routes: one table of routes and their rules, read by everything that depends
on a path (the router, rate limits, error formats, cache policy, the fast paths)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient

from badge.app import create_app
from badge.platform.ratelimit import BUCKETS
from badge.settings import Settings
from badge.web import routes
from badge.web.routes import ROUTES, Rules, rules_for


def flattened(found: list[BaseRoute], prefix: str = "") -> Iterator[str]:
    for route in found:
        if isinstance(route, Mount):
            yield from flattened(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            yield prefix + route.path


def test_the_router_serves_the_table_in_its_order(settings: Settings) -> None:
    served = list(flattened(create_app(settings).routes))
    table = [spec.path for spec in ROUTES if spec.rules.fast != "hotpath"]
    assert served == table


def test_the_hot_path_and_prepared_bytes_take_their_paths_from_the_table() -> None:
    assert routes.hot_path_routes() == ("/b/", {".svg": "svg", ".png": "png"})
    assert routes.prepared_prefixes() == ("/v/", "/api/v1/shops/")


@pytest.mark.parametrize(
    ("method", "path", "query", "bucket"),
    [
        pytest.param("POST", "/verify", b"", "uploads", id="upload-form"),
        pytest.param("POST", "/api/v1/verify", b"", "uploads", id="upload-api"),
        pytest.param("OPTIONS", "/api/v1/verify", b"", None, id="preflight"),
        pytest.param("GET", "/verify", b"q=x", "lookups", id="lookup-form"),
        pytest.param("GET", "/verify", b"", None, id="empty-lookup-form"),
        pytest.param("GET", "/api/v1/lookup", b"domain=x.be", "lookups", id="lookup-api"),
        pytest.param("GET", "/admin/api/v1/shops", b"", "admin", id="admin"),
        pytest.param("GET", "/admin/api/v1/reports", b"", "admin", id="admin-reports"),
        pytest.param("DELETE", "/admin/nothing-here", b"", "admin", id="admin-unknown"),
        pytest.param("GET", "/b/abcdefghijkmnpqr.svg", b"lang=nl", None, id="badge"),
        pytest.param("GET", "/v/abcdefghijkmnpqr", b"", None, id="page"),
        pytest.param("POST", "/v/abcdefghijkmnpqr/report", b"", "report", id="report"),
        # No route serves these: the router's 405/404 costs nothing to limit.
        pytest.param("POST", "/v/abcdefghijkmnpqr", b"", None, id="post-to-page"),
        pytest.param("POST", "/api/v1/report", b"", None, id="no-report-api"),
    ],
)
def test_buckets(method: str, path: str, query: bytes, bucket: str | None) -> None:
    assert rules_for(path).bucket(method, query) == bucket


@pytest.mark.parametrize(
    ("path", "errors"),
    [
        pytest.param("/", "page", id="home"),
        pytest.param("/no/such/page", "page", id="unknown-page"),
        pytest.param("/v/abcdefghijkmnpqr", "page", id="shop-page"),
        pytest.param("/api/v1/shops/abcdefghijkmnpqr", "api", id="shop-api"),
        pytest.param("/api/v1/nothing", "api", id="unknown-api"),
        pytest.param("/api/v1/verify", "verdict", id="verify-api"),
        pytest.param("/admin/api/v1/shops", "admin", id="admin"),
        pytest.param("/admin/other", "admin", id="unknown-admin"),
        pytest.param("/b/abcdefghijkmnpqr.svg", "badge", id="badge"),
        pytest.param("/b/abcdefghijkmnpqr.gif", "badge", id="badge-family"),
    ],
)
def test_error_formats(path: str, errors: str) -> None:
    assert rules_for(path).errors == errors


def test_every_bucket_is_used_by_some_route() -> None:
    used = {limit.bucket for spec in ROUTES for limit in spec.rules.limits}
    assert used == set(BUCKETS)


def test_a_route_cache_policy_applies_to_success_only(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        jwks = client.get("/.well-known/jwks.json")
        assert jwks.status_code == 200
        assert jwks.headers["cache-control"] == rules_for("/.well-known/jwks.json").cache
        assert jwks.headers["cache-control"] == "public, max-age=300"
        refused = client.post("/.well-known/jwks.json")
        assert refused.status_code == 405
        assert refused.headers["cache-control"] == "no-store"
        assert client.get("/healthz").headers["cache-control"] == "no-store"


def test_the_rules_object_is_plain_data() -> None:
    assert Rules() == routes.PAGE
    assert Rules().bucket("POST", b"x") is None
