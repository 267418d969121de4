"""Dates outside 1990..2100 are refused naming the field: in the rules, the admin API
(create and PATCH) and the CLI (`shops add`, `shops import`), never a 500 or a traceback."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from badge.app import create_app
from badge.errors import ValidationError
from badge.registry import changes, rules
from badge.registry.model import Shop
from badge.registry.sqlite import SQLiteRegistry
from badge.settings import Settings
from tests.conftest import add_shop

TOKEN = "bkt_dates-test-token-0123456789abcdefghijklmnopq"
API = "/admin/api/v1"
FIELDS = ("certified_since", "valid_until", "last_audit")
EXTREME = ["0001-01-01", "1989-12-31", "2101-01-01", "9999-12-31"]


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("raw", EXTREME)
def test_rules_refuse_out_of_range_dates(field: str, raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        rules.parse_date(raw, field)
    assert field in caught.value.message
    assert "1990-01-01" in caught.value.message


@pytest.mark.parametrize("raw", ["1990-01-01", "2100-12-31", "2027-06-30"])
def test_rules_accept_the_range(raw: str) -> None:
    assert rules.parse_date(raw, "valid_until") == date.fromisoformat(raw)


@pytest.mark.parametrize("raw", ["20271231", "2027-1-1", "+2027-01-01", "x" * 5000])
def test_rules_refuse_other_spellings(raw: str) -> None:
    with pytest.raises(ValidationError) as caught:
        rules.parse_date(raw, "last_audit")
    assert "last_audit" in caught.value.message
    assert len(caught.value.message) < 200


def test_plan_update_checks_parsed_dates_too(registry: SQLiteRegistry) -> None:
    shop = add_shop(registry)
    with pytest.raises(ValidationError, match="valid_until 0001-01-01 is out of range"):
        changes.plan_update(shop, reason="typo", valid_until=date(1, 1, 1))
    with pytest.raises(ValidationError, match="valid_until 0001-01-01 is out of range"):
        registry.update_shop(shop.id, actor="t", reason="typo", valid_until=date(1, 1, 1))


@pytest.fixture
def admin(registry: SQLiteRegistry, settings: Settings) -> Iterator[TestClient]:
    registry.add_token("crm", hashlib.sha256(TOKEN.encode()).hexdigest())
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.headers["authorization"] = f"Bearer {TOKEN}"
        yield client


def body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Datum Shop",
        "legal_name": "Datum Shop BV",
        "enterprise_number": "0123.456.749",
        "domains": ["datum-shop.be"],
        **overrides,
    }


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("raw", EXTREME)
def test_admin_create_refuses_with_400(admin: TestClient, field: str, raw: str) -> None:
    response = admin.post(f"{API}/shops", json=body(**{field: raw}))
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(f"{field} {raw} is out of range")


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("raw", EXTREME)
def test_admin_patch_refuses_with_400(
    admin: TestClient, registry: SQLiteRegistry, field: str, raw: str
) -> None:
    shop: Shop = add_shop(registry)
    response = admin.patch(
        f"{API}/shops/{shop.id}", json={field: raw, "reason": "typo in the audit report"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(f"{field} {raw} is out of range")
    assert registry.get_shop(shop.id) == shop


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BADGE_")}
    env["BADGE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'b.db'}"
    env["BADGE_KEYS_DIR"] = str(tmp_path / "keys")
    return subprocess.run(
        [sys.executable, "-m", "badge", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )


def test_cli_add_names_the_field(tmp_path: Path) -> None:
    result = run_cli(
        tmp_path,
        *("shops", "add", "--name", "N", "--legal-name", "N BV"),
        *("--enterprise-number", "0123.456.749", "--domain", "n.be"),
        *("--certified-since", "0001-01-01"),
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: certified_since 0001-01-01 is out of range")


def test_cli_import_names_the_field_and_line(tmp_path: Path) -> None:
    rows = [
        {**body(), "certified_since": "0001-01-01"},
        {**body(domains=["other.be"]), "valid_until": "9999-12-31"},
    ]
    path = tmp_path / "shops.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    result = run_cli(tmp_path, "shops", "import", str(path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "line 1: certified_since 0001-01-01 is out of range" in result.stderr
    assert "line 2: valid_until 9999-12-31 is out of range" in result.stderr
    assert "nothing was imported" in result.stderr
