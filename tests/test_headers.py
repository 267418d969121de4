"""Every response carries a deliberate Cache-Control; static files are content-hashed,
long-cached and `nosniff`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from badge.registry.model import Shop
from badge.web.assets import IMMUTABLE, PLAIN_NAME_CACHE, STATIC_DIR, load_assets

REQUESTS = [
    pytest.param("GET", "/no-such-page", 404, id="router-404"),
    pytest.param("GET", "/api/v1/nothing", 404, id="api-404"),
    pytest.param("DELETE", "/verify", 405, id="router-405"),
    pytest.param("POST", "/healthz", 405, id="healthz-405"),
    pytest.param("PUT", "/api/v1/verify", 405, id="api-405"),
    pytest.param("GET", "/static/nope.css", 404, id="static-404"),
    pytest.param("GET", "/static/../badge/app.py", 404, id="static-traversal"),
    pytest.param("GET", "/static/", 404, id="static-dir"),
    pytest.param("GET", "/admin/api/v1/shops", 401, id="admin-401"),
    pytest.param("GET", "/admin/api/v1/nothing", 401, id="admin-unknown"),
    pytest.param("GET", "/v/abc", 404, id="page-404"),
    pytest.param("GET", "/api/v1/shops/abc", 404, id="shop-json-404"),
    pytest.param("GET", "/b/abc.svg", 404, id="badge-404"),
    pytest.param("GET", "/b/abc.gif", 404, id="badge-other-suffix"),
    pytest.param("POST", "/b/abc.svg", 405, id="badge-405"),
    pytest.param("GET", "/api/v1/lookup", 400, id="lookup-400"),
    pytest.param("POST", "/api/v1/verify", 415, id="verify-415"),
    pytest.param("GET", "/healthz", 200, id="healthz"),
    pytest.param("GET", "/openapi.json", 200, id="openapi"),
    pytest.param("GET", "/embed.js", 200, id="embed-js"),
    pytest.param("GET", "/verify", 200, id="verify-page"),
]


@pytest.mark.parametrize(("method", "path", "status"), REQUESTS)
def test_every_response_has_a_cache_control(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    value = response.headers.get("cache-control")
    assert value, f"{method} {path} has no Cache-Control"
    if status >= 400:
        assert value in ("no-store", "no-cache") or "max-age" in value


def test_errors_default_to_no_store(client: TestClient) -> None:
    assert client.get("/no-such-page").headers["cache-control"] == "no-store"
    assert client.delete("/verify").headers["cache-control"] == "no-store"
    assert client.get("/static/nope.css").headers["cache-control"] == "no-store"


def test_pages_link_hashed_static_files(client: TestClient, shop: Shop) -> None:
    for path in ("/verify", f"/v/{shop.id}", f"/embed/{shop.id}"):
        html = client.get(path).text
        links = re.findall(r'href="(/static/[^"]+)"', html)
        assert links, path
        for link in links:
            assert re.fullmatch(r"/static/[a-z]+\.[0-9a-f]{12}\.(css|svg|ico)", link), link


@pytest.mark.parametrize("name", ["verify.css", "embed.css", "favicon.svg"])
def test_hashed_static_files_are_immutable(client: TestClient, name: str) -> None:
    url = load_assets().url(name)
    response = client.get(url)
    assert response.status_code == 200
    assert response.content == (STATIC_DIR / name).read_bytes()
    assert response.headers["cache-control"] == IMMUTABLE
    assert response.headers["x-content-type-options"] == "nosniff"
    etag = response.headers["etag"]
    again = client.get(url, headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.headers["cache-control"] == IMMUTABLE
    head = client.head(url)
    assert head.status_code == 200
    assert head.content == b""


def test_the_hash_follows_the_content(tmp_path: Path) -> None:
    for folder, text in (("one", "body{}"), ("two", "body{color:red}"), ("three", "body{}")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.css").write_text(text)
    names = [
        load_assets(tmp_path / f).by_name["a.css"].hashed_name for f in ("one", "two", "three")
    ]
    assert names[0] != names[1]
    assert names[0] == names[2]


def test_plain_static_names_still_work_with_a_short_cache(client: TestClient) -> None:
    response = client.get("/static/verify.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert response.headers["cache-control"] == PLAIN_NAME_CACHE
    assert response.headers["x-content-type-options"] == "nosniff"
