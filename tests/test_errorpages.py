"""badge/errorpages.py: one handler answers every refusal in the form of its route."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from badge.registry.model import Shop
from tests.verify.test_pages import assert_page_headers, check_structure

ADMIN = "/admin/api/v1"


@pytest.mark.parametrize(
    ("method", "path", "status", "lang_word"),
    [
        pytest.param("GET", "/no-such-page?lang=fr", 404, "Détail technique", id="router-404"),
        pytest.param("DELETE", "/verify?lang=de", 405, "Technisches Detail", id="router-405"),
        pytest.param("GET", "/v/abc/report?lang=en", 405, "Technical detail", id="report-405"),
    ],
)
def test_pages_get_html_in_the_visitors_language(
    client: TestClient, method: str, path: str, status: int, lang_word: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert lang_word in response.text
    assert_page_headers(response.headers)
    check_structure(response.text)


def test_a_405_page_lists_every_method_of_its_path(client: TestClient) -> None:
    response = client.delete("/verify")
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}


def test_a_refusal_raised_by_a_page_handler_is_a_page(client: TestClient, shop: Shop) -> None:
    response = client.post(
        f"/v/{shop.id}/report?lang=en", headers={"origin": "https://elsewhere.example"}
    )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "reports are accepted only from the form on our own pages" in response.text
    assert_page_headers(response.headers)


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        pytest.param("GET", "/api/v1/nothing", 404, "not_found", id="router-404"),
        pytest.param("PUT", "/api/v1/verify", 405, "method_not_allowed", id="router-405"),
        pytest.param("GET", "/api/v1/lookup?domain=-", 400, "bad_request", id="refusal"),
        pytest.param("GET", "/api/v1/shops/abc", 404, "not_found", id="unknown-shop"),
    ],
)
def test_api_gets_json_with_cors(
    client: TestClient, method: str, path: str, status: int, code: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert response.json()["error"] == code
    assert set(response.json()) == {"error", "message"}
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_admin_gets_json_no_store_and_a_bearer_challenge(client: TestClient) -> None:
    for path in (f"{ADMIN}/shops", f"{ADMIN}/no-such-path"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.json() == {
            "error": "unauthorized",
            "message": "send an admin API token as `Authorization: Bearer <token>`",
        }
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["www-authenticate"] == 'Bearer realm="keurmerk-admin"'


def test_badge_urls_off_the_hot_path_get_an_error_badge(client: TestClient, shop: Shop) -> None:
    response = client.get(f"/b/{shop.id}.gif?lang=en")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert response.headers["cache-control"] == "no-store"
    assert response.text.startswith("<svg")
    # The neutral mark: never the thumbs-up of a certified shop.
    assert 'role="img"' in response.text
    assert shop.display_name not in response.text
