"""The registry's rules hold whichever way a change comes in: the admin API and the CLI,
on SQLite and on PostgreSQL. The rule here: a certificate's valid_until is never before its
certified_since, checked on the row as it will be written."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from badge.app import create_app
from badge.registry.base import Registry
from badge.registry.model import Shop
from badge.settings import Secret, Settings
from tests.registry.shops import add

API = "/admin/api/v1"
TOKEN = "bkt_entry-points-test-token-0123456789abcdefghijk"


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    """The URL of the database the `registry` fixture opened."""
    if backend == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{request.getfixturevalue('db_path')}"


@pytest.fixture
def shop(registry: Registry) -> Shop:
    """Certified since 2024-01-01, valid until 2026-12-31."""
    return add(registry, valid_until="2026-12-31")


@pytest.fixture
def admin(registry: Registry, database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    registry.add_token("crm", hashlib.sha256(TOKEN.encode()).hexdigest())
    settings = Settings(
        database_url=Secret(database_url),
        keys_dir=tmp_path / "keys",
        public_url="http://testserver",
        poll_interval=0.05,
    )
    with TestClient(create_app(settings)) as client:
        client.headers["authorization"] = f"Bearer {TOKEN}"
        yield client


def badge_cli(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BADGE_")}
    env["BADGE_DATABASE_URL"] = database_url
    env["BADGE_KEYS_DIR"] = str(tmp_path / "keys")
    return subprocess.run(
        [sys.executable, "-m", "badge", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )


def assert_unchanged(registry: Registry, shop: Shop) -> None:
    assert registry.get_shop(shop.id) == shop
    assert len(registry.history(shop.id)) == 1


EDITS = [
    pytest.param(
        {"valid_until": "2023-12-31"},
        "valid_until 2023-12-31 is before certified_since 2024-01-01",
        id="until-before-stored-since",
    ),
    pytest.param(
        {"certified_since": "2027-01-01"},
        "valid_until 2026-12-31 is before certified_since 2027-01-01",
        id="since-after-stored-until",
    ),
]


@pytest.mark.parametrize(("edit", "message"), EDITS)
def test_admin_api_refuses_an_edit(
    admin: TestClient, registry: Registry, shop: Shop, edit: dict[str, str], message: str
) -> None:
    response = admin.patch(f"{API}/shops/{shop.id}", json={**edit, "reason": "typo"})
    assert response.status_code == 400, response.text
    assert response.json()["message"] == message
    assert_unchanged(registry, shop)


@pytest.mark.parametrize(("edit", "message"), EDITS)
def test_cli_refuses_an_edit(
    database_url: str,
    tmp_path: Path,
    registry: Registry,
    shop: Shop,
    edit: dict[str, str],
    message: str,
) -> None:
    ((field, value),) = edit.items()
    option = "--" + field.replace("_", "-")
    result = badge_cli(
        database_url, tmp_path, "shops", "update", shop.id, "--reason", "typo", option, value
    )
    assert result.returncode == 1, result.stdout
    assert result.stderr == f"error: {message}\n"
    assert_unchanged(registry, shop)


def test_admin_api_refuses_a_registration(admin: TestClient, registry: Registry) -> None:
    body = {
        "name": "Fietsen Peeters",
        "legal_name": "Fietsen Peeters BV",
        "enterprise_number": "0123.456.749",
        "domains": ["fietsen-peeters.be"],
        "certified_since": "2025-01-15",
        "valid_until": "2025-01-14",
    }
    response = admin.post(f"{API}/shops", json=body)
    assert response.status_code == 400, response.text
    assert "valid_until 2025-01-14 is before certified_since 2025-01-15" in response.text
    assert registry.count_shops() == 0


def test_a_first_certification_past_validity_is_refused_by_both(
    admin: TestClient, database_url: str, tmp_path: Path, registry: Registry
) -> None:
    suspended = add(registry, state="suspended", valid_until="2025-01-01")
    response = admin.post(
        f"{API}/shops/{suspended.id}/state", json={"state": "certified", "reason": "audit"}
    )
    assert response.status_code == 400, response.text
    assert "valid_until 2025-01-01 is before certified_since" in response.json()["message"]
    result = badge_cli(
        database_url,
        tmp_path,
        *("shops", "set-state", suspended.id, "certified", "--reason", "audit"),
    )
    assert result.returncode == 1, result.stdout
    assert "valid_until 2025-01-01 is before certified_since" in result.stderr
    assert "renew valid_until before certifying" in result.stderr
    assert_unchanged(registry, suspended)


def test_a_valid_edit_still_goes_through_both(
    admin: TestClient, database_url: str, tmp_path: Path, registry: Registry, shop: Shop
) -> None:
    response = admin.patch(
        f"{API}/shops/{shop.id}", json={"valid_until": "2027-12-31", "reason": "renewal"}
    )
    assert response.status_code == 200, response.text
    result = badge_cli(
        database_url,
        tmp_path,
        *("shops", "update", shop.id, "--reason", "audit", "--certified-since", "2024-02-01"),
    )
    assert result.returncode == 0, result.stderr
    stored = registry.get_shop(shop.id)
    assert stored is not None
    assert (stored.certified_since, stored.valid_until) == (date(2024, 2, 1), date(2027, 12, 31))
