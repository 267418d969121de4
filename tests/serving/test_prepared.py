"""`/v/{id}` and `/api/v1/shops/{id}` from prepared bytes: same answer, never a stale one."""

# The shop fixture comes before the client: a shop created after the app started is a change
# the feed reports, and a response begun before a change is (rightly) not kept.

from __future__ import annotations

import time

from starlette.testclient import TestClient

from badge.registry.model import Shop
from badge.registry.sqlite import SQLiteRegistry
from badge.serving.hotpath import BadgeHotPath


def hot_path(client: TestClient) -> BadgeHotPath:
    stack = client.app.middleware_stack  # type: ignore[attr-defined]
    assert isinstance(stack, BadgeHotPath)
    return stack


def test_a_warm_page_is_sent_as_prepared(shop: Shop, client: TestClient) -> None:
    headers = {"accept-language": "fr-BE,fr;q=0.9", "accept-encoding": "gzip, br"}
    first = client.get(f"/v/{shop.id}", headers=headers)
    hits = hot_path(client).prepared.hits
    second = client.get(f"/v/{shop.id}", headers=headers)
    assert hot_path(client).prepared.hits == hits + 1
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert second.headers["content-language"] == "fr"
    assert second.headers["content-encoding"] == first.headers["content-encoding"]
    # Every header the app sent comes back (uvicorn's date aside).
    same = {k: v for k, v in first.headers.items() if k != "date"}
    assert {k: v for k, v in second.headers.items() if k != "date"} == same
    # Another language is another page.
    dutch = client.get(f"/v/{shop.id}", headers={"accept-language": "nl-BE"})
    assert dutch.headers["content-language"] == "nl" and dutch.content != first.content


def test_head_gets_the_headers_without_the_body(shop: Shop, client: TestClient) -> None:
    client.get(f"/api/v1/shops/{shop.id}")
    hits = hot_path(client).prepared.hits
    head = client.head(f"/api/v1/shops/{shop.id}")
    assert hot_path(client).prepared.hits == hits + 1
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) > 0


def test_a_change_is_never_hidden_by_a_prepared_page(
    shop: Shop, client: TestClient, registry: SQLiteRegistry
) -> None:
    for _ in range(2):
        assert client.get(f"/api/v1/shops/{shop.id}").json()["certified_now"] is True
    page = client.get(f"/v/{shop.id}", headers={"accept-language": "en"}).text
    registry.set_state(shop.id, "suspended", reason="test", actor="test")
    deadline = time.monotonic() + 5
    while client.get(f"/api/v1/shops/{shop.id}").json()["state"] != "suspended":
        assert time.monotonic() < deadline, "the change feed never dropped the document"
        time.sleep(0.02)
    after = client.get(f"/v/{shop.id}", headers={"accept-language": "en"}).text
    assert after != page and "suspended" in after.lower()


def test_a_foreign_referer_is_never_kept(shop: Shop, client: TestClient) -> None:
    path = hot_path(client)
    for i in range(3):
        response = client.get(f"/v/{shop.id}", headers={"referer": f"https://copy{i}.example/"})
        assert response.status_code == 200 and f"copy{i}.example" in response.text
    assert path.prepared.hits == 0
    entry = client.app_state["badges"].entries.current(shop.id)
    assert not any(key[5] for key in entry.prepared)  # type: ignore[index]
    # The shop's own site is kept, and answered the same.
    own = {"referer": "https://www.bakkerij-test.be/winkel"}
    first = client.get(f"/v/{shop.id}", headers=own)
    again = client.get(f"/v/{shop.id}", headers=own)
    assert path.prepared.hits == 1 and again.content == first.content


def test_unknown_ids_and_revalidations_take_the_app(shop: Shop, client: TestClient) -> None:
    path = hot_path(client)
    for _ in range(2):
        assert client.get("/v/zzzzzzzzzzzzzzzz").status_code == 404
        assert client.get(f"/v/{shop.id}", headers={"if-none-match": '"x"'}).status_code == 200
    assert path.prepared.hits == 0
