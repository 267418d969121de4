"""`make soak`'s machinery, briefly: every kind of request in the mix runs and none fails.

The ten-minute run itself (memory growth under 10 % after warm-up) is `make soak`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.soak import run

pytestmark = [pytest.mark.server, pytest.mark.redis]


def test_a_short_soak_runs_every_kind_of_request(tmp_path: Path) -> None:
    result = run(seconds=15, users=6, report_dir=tmp_path)
    assert result.locust_exit == 0
    assert result.failures == 0
    assert result.server_errors == 0
    # The load test's badge views are named by the page showing them ("own site", ...).
    views = {n: c for n, c in result.by_name.items() if n.startswith("GET /b/[id].svg ")}
    assert sum(views.values()) > 0, result.by_name
    for name in (
        "GET /b/[id].svg?bad",
        "GET /v/[id]",
        "GET /api/v1/lookup",
        "POST POST /api/v1/verify",
        "POST POST /verify",
        "GET /verify?q=",
        "PATCH PATCH /admin/api/v1/shops/[id]",
    ):
        assert result.by_name.get(name, 0) > 0, (name, result.by_name)
    assert result.rss_end_kb > 0
