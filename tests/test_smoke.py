from starlette.testclient import TestClient

from badge.registry.model import Shop


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.text == "ok\n"


def test_badge_svg_for_certified_shop(client: TestClient, shop: Shop) -> None:
    response = client.get(f"/b/{shop.id}.svg")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in response.text
