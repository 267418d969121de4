"""badge.lifespan: the render worker starts while the rest opens, and a start that fails
leaves no worker behind."""

from __future__ import annotations

import dataclasses
import multiprocessing.forkserver
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from badge.app import create_app
from badge.errors import Unavailable
from badge.registry.model import Shop
from badge.settings import Secret, Settings
from tests.servers import wait_for


def forkserver_children() -> list[int]:
    """The processes the forkserver has forked (render workers), by pid."""
    server = multiprocessing.forkserver._forkserver._forkserver_pid  # type: ignore[attr-defined]
    if server is None:
        return []
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        if int(fields[1]) == server:
            children.append(int(stat.parent.name))
    return children


def test_the_app_draws_pngs_in_the_worker_it_started(settings: Settings, shop: Shop) -> None:
    before = set(forkserver_children())
    with TestClient(create_app(dataclasses.replace(settings, render_processes=1))) as client:
        assert len(set(forkserver_children()) - before) == 1
        response = client.get(f"/b/{shop.id}.png?scale=2")
        assert response.status_code == 200
        assert response.content.startswith(b"\x89PNG\r\n\x1a\n")
    wait_for(lambda: set(forkserver_children()) <= before, 10, "the worker gone")


def test_a_registry_that_cannot_open_leaves_no_worker(settings: Settings, tmp_path: Path) -> None:
    # The registry opens while the worker starts: when it fails, the worker is stopped.
    (tmp_path / "file").write_text("not a folder")
    broken = dataclasses.replace(
        settings,
        database_url=Secret(f"sqlite:///{tmp_path / 'file' / 'badge.db'}"),
        render_processes=1,
    )
    before = set(forkserver_children())
    with pytest.raises(Unavailable, match="BADGE_DATABASE_URL"), TestClient(create_app(broken)):
        pass
    wait_for(lambda: set(forkserver_children()) <= before, 10, "the worker gone")
