"""Distinct bad requests, as many as you like, leave the served process's memory flat.

Real uvicorn, real requests: long query strings, bad parameters, odd ids and
Referers; the RSS (from /proc) and the render counter must not grow with them.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from badge.registry.sqlite import SQLiteRegistry
from tests.conftest import add_shop
from tests.servers import Service, service_env

pytestmark = pytest.mark.server

DISTINCT = 4_000
# Generous against allocator noise on a shared machine; the bug this guards against grew
# the process by 215 MB for 4,095 long query strings.
MAX_GROWTH_KB = 24 * 1024


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert found is not None
    return int(found.group(1))


def metric(conn: http.client.HTTPConnection, name: str) -> float:
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    found = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
    assert found is not None, name
    return float(found.group(1))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Service, str]]:
    registry = SQLiteRegistry(tmp_path / "badge.db")
    shop = add_shop(registry)
    registry.close()
    service = Service(service_env(tmp_path, BADGE_RENDER_PROCESSES="0"))
    service.start()
    try:
        yield service, shop.id
    finally:
        service.stop()


def hammer(conn: http.client.HTTPConnection, shop_id: str, start: int, count: int) -> None:
    long_tail = "x" * 30_000
    for n in range(start, start + count):
        kind = n % 5
        if kind == 0:
            path = f"/b/{shop_id}.svg?v={n}&{long_tail}"
            headers = {}
        elif kind == 1:
            path = f"/b/{shop_id}.png?lang=q{n}"
            headers = {}
        elif kind == 2:
            path = f"/b/{'z' * 2000}{n}.svg"
            headers = {"referer": f"https://{'r' * 3000}{n}.example/"}
        elif kind == 3:
            path = f"/b/{shop_id}.svg"
            headers = {"referer": f"https://{'s' * 4000}{n}.example/page"}
        else:
            # Answered (a tracking parameter is ignored), but too long to be kept: 3 KB.
            path = f"/b/{shop_id}.svg?lang=nl&utm_source={n:08d}{'u' * 3000}"
            headers = {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status in (200, 400, 404), (path[:60], response.status)


def test_memory_stays_flat_under_distinct_bad_requests(served: tuple[Service, str]) -> None:
    service, shop_id = served
    assert service.process is not None
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=10)
    # Warm-up: every kind of response once, so first-time allocations are behind us.
    hammer(conn, shop_id, 0, 400)
    before = rss_kb(service.process.pid)
    renders_before = metric(conn, "badge_renders_total")
    hammer(conn, shop_id, 400, DISTINCT)
    after = rss_kb(service.process.pid)
    renders_after = metric(conn, "badge_renders_total")
    conn.close()
    assert renders_after == renders_before, "a bad request made the server render something"
    assert after - before < MAX_GROWTH_KB, f"RSS grew {before} -> {after} kB"
