"""Consumers' reports: the form on /v/{id}, its cookieless CSRF defence, and the operators' API."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from badge.app import create_app
from badge.registry.model import Shop
from badge.registry.sqlite import SQLiteRegistry
from badge.settings import Settings
from badge.signing import KeyStore
from badge.verify.formtoken import form_token
from tests.conftest import add_shop

API = "/admin/api/v1"
TOKEN = "bkt_reports-test-token-0123456789abcdefghijklmnop"
FOREIGN = {"referer": "https://copycat.example/shop"}


@pytest.fixture
def client(registry: SQLiteRegistry, settings: Settings) -> Iterator[TestClient]:
    registry.add_token("ops", hashlib.sha256(TOKEN.encode()).hexdigest())
    with TestClient(create_app(settings), base_url=settings.public_url) as test_client:
        yield test_client


@pytest.fixture
def shop(registry: SQLiteRegistry) -> Shop:
    return add_shop(registry, name="Bakkerij Test", domains=("bakkerij-test.be",))


def the_form(client: TestClient, shop: Shop, **headers: str) -> dict[str, str]:
    page = client.get(f"/v/{shop.id}?lang=en", headers=headers).text
    (form,) = re.findall(r'<form class="report".*?</form>', page, re.S)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))
    assert re.search(rf'action="/v/{shop.id}/report\?lang=en"', form)
    return fields


def post(client: TestClient, shop: Shop, data: dict[str, str], **headers: str) -> Any:
    origin = {"origin": str(client.base_url).rstrip("/")}
    return client.post(f"/v/{shop.id}/report?lang=en", data=data, headers=origin | headers)


def admin(client: TestClient, method: str, path: str, **kwargs: Any) -> Any:
    auth = {"authorization": f"Bearer {TOKEN}"}
    return client.request(method, f"{API}{path}", headers=auth, **kwargs)


def test_the_warning_leads_with_a_report_form_for_that_site(client: TestClient, shop: Shop) -> None:
    page = client.get(f"/v/{shop.id}?lang=en", headers=FOREIGN).text
    warning = page.index("notice-warning")
    assert warning < page.index('<form class="report"') < page.index("status-elsewhere")
    assert "Report copycat.example to BeCommerce" in page
    fields = the_form(client, shop, **FOREIGN)
    assert (fields["site"], fields["referrer"]) == ("copycat.example", "copycat.example")
    # Without a referrer the form asks for the site instead.
    assert "site" not in the_form(client, shop)
    assert 'id="report-site"' in client.get(f"/v/{shop.id}").text


def test_a_report_is_stored_and_thanked_without_cookies(client: TestClient, shop: Shop) -> None:
    fields = the_form(client, shop, **FOREIGN)
    response = post(client, shop, {**fields, "note": " Same  logo,\nother prices "})
    assert response.status_code == 201
    assert "set-cookie" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    (reference,) = re.findall(r"\br[a-z2-9]{16}\b", response.text)
    listed = admin(client, "GET", "/reports?status=open").json()["reports"]
    assert [r["id"] for r in listed] == [reference]
    assert listed[0]["note"] == "Same logo, other prices"
    assert listed[0]["host"] == "copycat.example"
    assert listed[0]["lang"] == "en"


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        pytest.param("https://evil.example", 403, id="foreign-origin"),
        pytest.param("null", 403, id="opaque-origin"),
        pytest.param(None, 201, id="no-origin-but-a-valid-token"),
    ],
)
def test_the_origin_must_be_ours(
    client: TestClient, shop: Shop, origin: str | None, status: int
) -> None:
    fields = the_form(client, shop, **FOREIGN)
    url = f"/v/{shop.id}/report?lang=en"
    headers = {} if origin is None else {"origin": origin}
    response = client.post(url, data=fields, headers=headers)
    assert response.status_code == status
    stored = admin(client, "GET", "/reports").json()["reports"]
    assert len(stored) == (1 if status == 201 else 0)


def test_the_form_token_is_bound_to_the_shop_and_expires(
    client: TestClient, shop: Shop, registry: SQLiteRegistry, settings: Settings
) -> None:
    other = add_shop(registry, name="Fietsen Test", domains=("fietsen-test.be",))
    fields = the_form(client, other)
    response = post(client, shop, {**fields, "site": "copycat.example"})
    assert response.status_code == 403
    keys = KeyStore(settings.keys_dir, token_ttl=settings.token_ttl)
    assert keys.reload_if_changed()
    old = form_token(keys, shop.id, now=time.time() - 40 * 3600)
    assert post(client, shop, {"token": old, "site": "x.example"}).status_code == 403
    forged = form_token(keys, shop.id)[:-4] + "AAAA"
    assert post(client, shop, {"token": forged, "site": "x.example"}).status_code == 403
    assert post(client, shop, {"site": "x.example"}).status_code == 403
    assert admin(client, "GET", "/reports").json()["reports"] == []


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        pytest.param({"site": ""}, 400, "which website", id="no-site"),
        pytest.param({"site": "not a host!"}, 400, "not a website address", id="bad-site"),
        pytest.param({"site": "x.example", "note": "x" * 1001}, 400, "at most", id="long-note"),
        pytest.param({"site": "x.example", "note": "y" * 9000}, 413, "too long", id="huge"),
        pytest.param(
            {"site": "x.example", **{f"extra{i}": "1" for i in range(9)}},
            400,
            "at most 8 fields",
            id="too-many-fields",
        ),
    ],
)
def test_bad_reports_get_a_clear_error(
    client: TestClient, shop: Shop, data: dict[str, str], status: int, words: str
) -> None:
    fields = the_form(client, shop)
    response = post(client, shop, {**fields, **data})
    assert response.status_code == status
    assert words in response.text
    assert admin(client, "GET", "/reports").json()["reports"] == []


def test_an_unknown_shop_cannot_be_reported(client: TestClient, shop: Shop) -> None:
    fields = the_form(client, shop)
    response = client.post("/v/zzzzzzzzzzzzzzzz/report", data={**fields, "site": "x.example"})
    assert response.status_code == 404


def test_operators_list_show_and_close_reports(client: TestClient, shop: Shop) -> None:
    fields = the_form(client, shop)
    for site in ("one.example", "two.example"):
        assert post(client, shop, {**fields, "site": site}).status_code == 201
    assert client.get(f"{API}/reports").status_code == 401
    both = admin(client, "GET", f"/reports?shop_id={shop.id}").json()["reports"]
    assert {r["host"] for r in both} == {"one.example", "two.example"}
    first = both[-1]["id"]
    assert admin(client, "GET", f"/reports/{first}").json()["status"] == "open"
    assert admin(client, "POST", f"/reports/{first}/close", json={}).status_code == 400
    closed = admin(client, "POST", f"/reports/{first}/close", json={"resolution": "done"})
    assert closed.status_code == 200
    body = closed.json()
    assert (body["status"], body["resolution"], body["closed_by"]) == ("closed", "done", "api:ops")
    again = admin(client, "POST", f"/reports/{first}/close", json={"resolution": "x"})
    assert again.status_code == 409
    assert [r["host"] for r in admin(client, "GET", "/reports?status=open").json()["reports"]] == [
        "two.example" if both[-1]["host"] == "one.example" else "one.example"
    ]
    assert admin(client, "GET", "/reports?status=maybe").status_code == 400
    assert admin(client, "GET", "/reports?status=open&status=closed").status_code == 400
    assert admin(client, "GET", "/reports/rzzzzzzzzzzzzzzzz").status_code == 404
    assert admin(client, "GET", "/reports/<script>").status_code == 404
    summary = admin(client, "GET", "/reports/summary")
    assert summary.status_code == 200 and "by_state" in summary.json()


def test_reports_are_rate_limited_per_client(
    client: TestClient, shop: Shop, settings: Settings
) -> None:
    fields = the_form(client, shop)
    allowed = settings.rate_reports
    for i in range(allowed):
        assert post(client, shop, {**fields, "site": f"s{i}.example"}).status_code == 201
    refused = post(client, shop, {**fields, "site": "one-too-many.example"})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "set-cookie" not in refused.headers
    stored = admin(client, "GET", "/reports").json()["reports"]
    assert len(stored) == allowed
    assert "one-too-many.example" not in {r["host"] for r in stored}
