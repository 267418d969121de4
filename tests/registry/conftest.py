"""The registry contract's fixtures: tests taking `registry` run once per backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from badge.registry.base import Registry
from badge.registry.postgres import PostgresRegistry
from badge.registry.sqlite import SQLiteRegistry


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "registry" / "badge.db"


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def registry(backend: str, request: pytest.FixtureRequest) -> Iterator[Registry]:
    reg: Registry
    if backend == "postgres":
        reg = PostgresRegistry(request.getfixturevalue("pg_url"))
    else:
        reg = SQLiteRegistry(request.getfixturevalue("db_path"))
    yield reg
    reg.close()
