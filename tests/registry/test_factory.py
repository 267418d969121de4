"""open_registry(settings) picks the backend from BADGE_DATABASE_URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from badge.errors import ValidationError
from badge.registry.factory import open_registry
from badge.registry.postgres import PostgresRegistry
from badge.registry.sqlite import SQLiteRegistry
from badge.settings import Secret, Settings


def test_sqlite_url_opens_sqlite(tmp_path: Path) -> None:
    registry = open_registry(Settings(database_url=Secret(f"sqlite:///{tmp_path / 'b.db'}")))
    try:
        assert isinstance(registry, SQLiteRegistry)
        registry.ping()
    finally:
        registry.close()
    assert (tmp_path / "b.db").exists()


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgresql://", "postgres://"])
def test_postgres_url_opens_postgres(pg_url: str, scheme: str) -> None:
    url = scheme + pg_url.removeprefix("postgresql://")
    registry = open_registry(Settings(database_url=Secret(url)))
    try:
        assert isinstance(registry, PostgresRegistry)
        registry.ping()
    finally:
        registry.close()


def test_other_schemes_are_refused() -> None:
    with pytest.raises(ValidationError, match="BADGE_DATABASE_URL"):
        open_registry(Settings(database_url=Secret("mysql://u:pw@db/badge")))
