"""A short, bounded locust run against the real service with Redis: zero failures."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from loadtests.run_locust import run

pytestmark = [pytest.mark.server, pytest.mark.redis]


def test_locust_smoke_run_has_no_failures(tmp_path: Path) -> None:
    assert run(users=10, seconds=8, report_dir=tmp_path) == 0
    assert (tmp_path / "loadtest.html").stat().st_size > 1000
    with open(tmp_path / "loadtest_stats.csv") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    assert int(rows["Aggregated"]["Request Count"]) > 100
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    assert int(rows["/b/[id].svg"]["Request Count"]) > int(rows["/v/[id]"]["Request Count"])
