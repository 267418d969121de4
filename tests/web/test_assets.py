"""badge.web.assets: static files by content-hashed name, with validators and byte ranges."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from badge.web.assets import load_assets, static_url


def test_the_hashed_name_is_immutable_and_the_plain_name_is_not(client: TestClient) -> None:
    body = load_assets().by_name["verify.css"].body
    hashed = client.get(static_url("verify.css"))
    assert hashed.status_code == 200
    assert hashed.content == body
    assert "immutable" in hashed.headers["cache-control"]
    plain = client.get("/static/verify.css")
    assert plain.content == body
    assert "immutable" not in plain.headers["cache-control"]
    again = client.get(static_url("verify.css"), headers={"if-none-match": hashed.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_an_unknown_file_is_a_plain_404(client: TestClient) -> None:
    response = client.get("/static/nothing-here.css")
    assert response.status_code == 404
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("header", "status", "part"),
    [
        ("bytes=0-9", 206, slice(0, 10)),
        ("bytes=10-", 206, slice(10, None)),
        ("bytes=-5", 206, slice(-5, None)),
        ("bytes=0-999999", 206, slice(0, None)),
        ("bytes=999999-", 416, None),
        ("bytes=-0", 416, None),
        # Anything but one plain range is the whole file, never an error.
        ("bytes=0-1,4-5", 200, slice(0, None)),
        ("bytes=a-b", 200, slice(0, None)),
        ("items=0-9", 200, slice(0, None)),
        # Superscript digits: str.isdigit() says yes, int() says no.
        ("bytes=\u00b2-", 200, slice(0, None)),
        ("bytes=0-\u00b9", 200, slice(0, None)),
        ("bytes=-\u00b3", 200, slice(0, None)),
    ],
)
def test_byte_ranges(client: TestClient, header: str, status: int, part: slice | None) -> None:
    body = load_assets().by_name["verify.css"].body
    response = client.get("/static/verify.css", headers={"range": header.encode("latin-1")})
    assert response.status_code == status
    if part is None:
        assert response.headers["content-range"] == f"bytes */{len(body)}"
    else:
        assert response.content == body[part]
