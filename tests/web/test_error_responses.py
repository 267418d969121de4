"""badge/web/error_responses.py: one handler answers every refusal in the form of its route."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from badge.registry.model import Shop
from tests.verify.test_pages import assert_page_headers, check_structure

ADMIN = "/admin/api/v1"


# (method, path, status, what the answer says): pages in the language asked for, the API
# with its `error` code.
ERRORS = [
    pytest.param("GET", "/no-such-page?lang=fr", 404, "Cette page n’existe pas", id="page-404"),
    pytest.param("GET", "/no-such-page?lang=nl", 404, "Deze pagina bestaat niet", id="page-404-nl"),
    pytest.param("DELETE", "/verify?lang=de", 405, "Technisches Detail", id="page-405"),
    pytest.param("GET", "/v/abc/report?lang=en", 405, "Technical detail", id="report-405"),
    pytest.param("GET", "/api/v1/nothing", 404, "not_found", id="api-404"),
    pytest.param("PUT", "/api/v1/verify", 405, "method_not_allowed", id="api-405"),
    pytest.param("GET", "/api/v1/lookup?domain=-", 400, "bad_request", id="api-refusal"),
    pytest.param("GET", "/api/v1/shops/abc", 404, "not_found", id="api-unknown-shop"),
]


@pytest.mark.parametrize(("method", "path", "status", "says"), ERRORS)
def test_each_route_gets_its_form_of_error(
    client: TestClient, method: str, path: str, status: int, says: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    if path.startswith("/api/v1/verify"):
        # The verify API's contract: every answer, a refusal too, has a verdict's keys.
        body = response.json()
        assert body["error"] == says
        assert body["genuine"] is False
        assert body["reason"] == body["message"]
        assert {"shop_id", "expired", "certified_now"} <= set(body)
        assert response.headers["access-control-allow-origin"] == "*"
        return
    if path.startswith("/api/"):
        assert response.json() == {"error": says, "message": response.json()["message"]}
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["x-content-type-options"] == "nosniff"
        return
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert says in response.text
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
