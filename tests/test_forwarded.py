"""Behind the edge, per-client rate limits count consumers: `badge serve` trusts the
X-Forwarded-For of the proxies in BADGE_FORWARDED_ALLOW_IPS, and of no one else."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.servers import ROOT, free_port, get, service_env, wait_for

pytestmark = pytest.mark.server


@contextmanager
def serving(tmp_path: Path, **extra: str) -> Iterator[str]:
    port = free_port()
    env = service_env(tmp_path, BADGE_PORT=str(port), BADGE_RATE_LOOKUPS="2", **extra)
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "badge", "serve"], env=env, cwd=ROOT, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: get(f"{base}/healthz", timeout=1)[0] == 200, 30, "badge serve")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def lookups(base: str, client: str, n: int) -> list[int]:
    url = f"{base}/api/v1/lookup?domain=nowhere-test.be"
    return [get(url, {"x-forwarded-for": client})[0] for _ in range(n)]


def test_the_edge_names_the_client(tmp_path: Path) -> None:
    with serving(tmp_path, BADGE_FORWARDED_ALLOW_IPS="127.0.0.1") as base:
        assert lookups(base, "203.0.113.7", 3) == [404, 404, 429]
        # Another consumer behind the same edge has a window of its own.
        assert lookups(base, "198.51.100.9", 2) == [404, 404]


def test_without_a_trusted_edge_the_header_is_ignored(tmp_path: Path) -> None:
    with serving(tmp_path) as base:
        assert lookups(base, "203.0.113.7", 2) == [404, 404]
        # A client cannot escape its limit by claiming to be someone else.
        assert lookups(base, "198.51.100.9", 1) == [429]
