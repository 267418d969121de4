"""badge.serving.timing: every request the router answers is timed by its route template."""

from __future__ import annotations

from starlette.testclient import TestClient

from badge.app import BadgeApp
from badge.registry.model import Shop
from badge.serving.hotpath import HotPathStats


def stats_of(client: TestClient) -> HotPathStats:
    app = client.app
    assert isinstance(app, BadgeApp)
    return app.stats


def counted(stats: HotPathStats, route: str, status: int) -> int:
    row = stats.timings.get((route, "-", status))
    return 0 if row is None else int(sum(row[:-1]))


def test_routes_are_timed_by_their_template_not_their_path(client: TestClient, shop: Shop) -> None:
    stats = stats_of(client)
    assert client.get(f"/v/{shop.id}/report").status_code == 405
    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert counted(stats, "/healthz", 200) == 2
    assert counted(stats, "/v/{shop_id}/report", 405) == 1
    # No row names a shop id: the series stay bounded whatever ids are asked for.
    assert not any(shop.id in route for route, _, _ in stats.timings)


def test_a_path_no_route_answers_is_unmatched(client: TestClient) -> None:
    stats = stats_of(client)
    assert client.get("/no/such/thing").status_code == 404
    assert counted(stats, "unmatched", 404) == 1


def test_a_refusal_by_a_mount_is_timed_under_the_mount(client: TestClient) -> None:
    stats = stats_of(client)
    assert client.get("/admin/api/v1/shops").status_code == 401
    assert [route for route, _, status in stats.timings if status == 401] == ["/admin/api/v1/*"]
