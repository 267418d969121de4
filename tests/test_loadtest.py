"""`make loadtest`, bounded: against a service it starts itself, against a running
deployment named by TARGET, and as a locust master with workers. Zero failures each time,
and each run keeps its HTML report and CSV files."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtests.run_locust import parser, read_shops_file, run
from tests.platform.test_metrics import add_shop
from tests.servers import ROOT, RedisServer, Service, service_env

pytestmark = [pytest.mark.server, pytest.mark.redis]


def stats(report_dir: Path) -> dict[str, dict[str, str]]:
    assert (report_dir / "report.html").stat().st_size > 1000
    with open(report_dir / "loadtest_stats.csv") as handle:
        return {row["Name"]: row for row in csv.DictReader(handle)}


def count(rows: dict[str, dict[str, str]], prefix: str) -> int:
    return sum(int(row["Request Count"]) for name, row in rows.items() if name.startswith(prefix))


def test_a_run_against_its_own_service_has_no_failures(tmp_path: Path) -> None:
    options = parser().parse_args(
        ["--users", "10", "--seconds", "8", "--report-dir", str(tmp_path)]
    )
    assert run(options) == 0
    rows = stats(tmp_path)
    assert int(rows["Aggregated"]["Request Count"]) > 100
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    # Shaped like embeds: badges for the shops' own sites above all, foreign sites, no
    # Referer, new `d=` hosts, PNGs, then clicks to /v.
    # Pages without a Referer are a 5 % share drawn per page, so a run this short may see
    # none; own and foreign sites are common enough to show every time.
    assert count(rows, "/b/[id].svg own site") > count(rows, "/b/[id].svg foreign site") > 0
    assert count(rows, "/b/[id].svg?d= new host") > 0
    assert count(rows, "/b/") > 5 * count(rows, "/v/[id]") > 0
    with_token = count(rows, "/admin/")
    assert with_token > 0  # it made its own token


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[Service, list[str]]]:
    """Someone's running service: Redis, two shops, default rate limits."""
    redis = RedisServer(tmp_path)
    redis.start()
    env = service_env(tmp_path, BADGE_REDIS_URL=redis.url, BADGE_RENDER_PROCESSES="0")
    ids = [add_shop(env, "laden-een.be", 6_789_123), add_shop(env, "laden-twee.be", 7_891_234)]
    service = Service(env)
    try:
        service.start()
        yield service, ids
    finally:
        service.stop()
        redis.stop()


def test_a_deployment_as_target_with_workers(
    deployment: tuple[Service, list[str]], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Ids alone in the file: domains come from the public API. No token: no admin traffic.
    A master and two workers, through `make loadtest`'s own command line."""
    service, ids = deployment
    shops = tmp_path / "shops.txt"
    shops.write_text("# id [domain ...]\n" + "\n".join(ids) + "\n")
    completed = subprocess.run(
        [
            sys.executable, "loadtests/run_locust.py", "--target", service.base,
            "--shops", str(shops), "--workers", "2", "--users", "8", "--seconds", "8",
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
        env={k: v for k, v in service.env.items() if k != "LOCUST_ADMIN_TOKEN"},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "2 workers" in completed.stdout
    # Kept under var/loadtest/<UTC timestamp>/, as every run's is.
    found = re.search(r"report in (\S+)/report.html", completed.stdout)
    assert found is not None, completed.stdout
    report = Path(found.group(1))
    assert report.parent == ROOT / "var" / "loadtest"
    assert re.fullmatch(r"\d{8}T\d{6}Z", report.name)
    request.addfinalizer(lambda: shutil.rmtree(report, ignore_errors=True))
    rows = stats(report)
    assert int(rows["Aggregated"]["Failure Count"]) == 0
    assert int(rows["Aggregated"]["Request Count"]) > 50
    assert count(rows, "/admin/") == 0
    assert count(rows, "/b/[id].svg own site") > 0
    # The domains came from the target's public API.
    assert '"laden-een.be"' in (report / "shops.json").read_text()
    # Both workers reported to the master: the stats history has their requests.
    assert (report / "loadtest_stats_history.csv").stat().st_size > 0


def test_a_target_without_shops_or_token_is_a_clear_error(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "loadtests/run_locust.py", "--target", "http://127.0.0.1:9",
         "--report-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={k: v for k, v in service_env(tmp_path).items() if k != "LOCUST_ADMIN_TOKEN"},
    )  # fmt: skip
    assert completed.returncode != 0
    assert "--shops FILE" in completed.stderr


def test_shops_files_in_each_form(tmp_path: Path) -> None:
    lines = tmp_path / "shops.txt"
    lines.write_text("id,domains\nabc, a.be, b.be\n# a comment\ndef\n")
    assert read_shops_file(lines) == [
        {"id": "abc", "domains": ["a.be", "b.be"]},
        {"id": "def", "domains": []},
    ]
    listed = tmp_path / "shops.json"
    listed.write_text('["abc", {"id": "def", "domains": ["d.be"]}]')
    assert read_shops_file(listed) == [
        {"id": "abc", "domains": []},
        {"id": "def", "domains": ["d.be"]},
    ]
