"""The dashboard and the alert rules against a real Prometheus scraping a real instance.

promtool checks the rules and runs their unit tests; then Debian's Prometheus, on loopback,
scrapes the service (uvicorn, Redis, an edge to purge) under a little load, and every
dashboard query and every alert expression is evaluated through its HTTP API.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.platform.test_metrics import add_shop
from tests.platform.test_purge import RecordingEdge
from tests.servers import (
    ROOT,
    RedisServer,
    Service,
    cli,
    end,
    free_port,
    get,
    service_env,
    wait_for,
)

pytestmark = [pytest.mark.server, pytest.mark.redis, pytest.mark.prometheus]

DASHBOARD = ROOT / "deploy" / "grafana" / "keurmerk-badge.json"
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "alerts.test.yml"
# `<query> <comparison> <bound>`, as deploy/prometheus/alerts.yml writes every alert.
THRESHOLD = re.compile(r"^(?P<query>.+?)\s*(?:>|<|==|!=|>=|<=)\s*[0-9.e+-]+$", re.DOTALL)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    assert binary is not None, "promtool is missing: bash scripts/system-deps.sh prometheus"
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)


def dashboard_queries() -> list[tuple[str, str]]:
    board = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in board["panels"]
        for target in panel.get("targets", [])
    ]


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_promtool_checks_the_rules_and_runs_their_tests() -> None:
    checked = promtool("check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", str(RULE_TESTS))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout
    # Every alert has a unit test of its own.
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    tested_alerts = {
        case["alertname"] for test in tests for case in test.get("alert_rule_test", [])
    }
    assert tested_alerts == {rule["alert"] for rule in alert_rules()}


def test_the_dashboard_is_a_grafana_dashboard_on_a_datasource_variable() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert board["uid"] == "keurmerk-badge"
    assert isinstance(board["schemaVersion"], int)
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
    # What ops asked to see is there.
    text = " ".join(expr for _, expr in dashboard_queries())
    for metric in (
        "badge_request_duration_seconds_bucket",
        "badge_http_responses_total",
        "badge_hotpath_lookups_total",
        "badge_renders_total",
        "badge_edge_purges_total",
        "badge_redis_bus_state",
        "badge_keys_disagree",
        "badge_rate_limited_total",
        "badge_sightings_dropped_total",
        "badge_registry_duration_seconds_bucket",
        "badge_registry_errors_total",
    ):
        assert metric in text, metric


class Prometheus:
    """Debian's prometheus on a free loopback port, scraping one target every second."""

    def __init__(self, work: Path, target: str) -> None:
        binary = shutil.which("prometheus")
        assert binary is not None, "prometheus is missing: bash scripts/system-deps.sh prometheus"
        self.binary = binary
        self.port = free_port()
        self.work = work
        (work / "prometheus.yml").write_text(
            "global:\n"
            "  scrape_interval: 1s\n"
            "  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            "  - job_name: badge\n"
            "    static_configs:\n"
            f"      - targets: ['{target}']\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with (self.work / "prometheus.log").open("wb") as log:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={self.work / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.work / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        wait_for(lambda: get(self.base + "/-/ready", timeout=1)[0] == 200, 30, "prometheus")

    def query(self, expr: str) -> dict[str, Any]:
        url = self.base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        status, body, _ = get(url, timeout=10)
        answer: dict[str, Any] = json.loads(body)
        answer["http_status"] = status
        return answer

    def stop(self) -> None:
        if self.process is not None:
            end(self.process)
            self.process = None


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    tmp = tmp_path_factory.mktemp("prometheus")
    redis = RedisServer(tmp)
    edge = RecordingEdge()
    edge.thread.start()
    env = service_env(
        tmp, BADGE_REDIS_URL=redis.url, BADGE_PURGE_URLS=edge.url, BADGE_RENDER_PROCESSES="0"
    )
    service = Service(env)
    prometheus = Prometheus(tmp, f"127.0.0.1:{service.port}")
    try:
        redis.start()
        shop = add_shop(env, "prom-een.be", 3_333_333)
        token = cli(env, "tokens", "create", "prom").stdout.strip().splitlines()[-1]
        service.start()
        prometheus.start()
        load(service, shop, token, seconds=4)
        # A few scrapes after the load, so every rate() has two samples to work with.
        wait_for(lambda: _has_samples(prometheus), 30, "scrapes of the load")
        yield prometheus
    finally:
        prometheus.stop()
        service.stop()
        redis.stop()
        edge.server.shutdown()
        edge.server.server_close()


def load(service: Service, shop: str, token: str, seconds: float) -> None:
    """Badges of every variant, pages, lookups, a state change (a purge), for a few seconds."""
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    change = threading.Thread(
        target=lambda: _post(service, f"/admin/api/v1/shops/{shop}/state", auth), daemon=True
    )
    change.start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for referer in ("https://prom-een.be/", "https://elsewhere.example/", None):
            headers = {"Referer": referer} if referer else {}
            get(f"{service.base}/b/{shop}.svg", headers)
            get(f"{service.base}/b/{shop}.png?size=s", headers)
        get(f"{service.base}/v/{shop}")
        get(f"{service.base}/api/v1/lookup?domain=prom-een.be")
        get(f"{service.base}/b/AAAAAAAAAAAAAAAAAAAAAA.svg")
    change.join(timeout=10)


def _post(service: Service, path: str, headers: dict[str, str]) -> None:
    import urllib.request

    body = json.dumps({"state": "suspended", "reason": "prometheus test"}).encode()
    request = urllib.request.Request(service.base + path, data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def _has_samples(prometheus: Prometheus) -> bool:
    answer = prometheus.query("count_over_time(badge_renders_total[5m])")
    result = answer.get("data", {}).get("result", [])
    return bool(result) and float(result[0]["value"][1]) >= 6


def test_every_dashboard_query_returns_series(
    scraped: Prometheus, capsys: pytest.CaptureFixture[str]
) -> None:
    assert scraped.query('up{job="badge"}')["data"]["result"][0]["value"][1] == "1"
    counts = []
    for title, expr in dashboard_queries():
        answer = scraped.query(expr)
        assert answer["status"] == "success", (title, expr, answer)
        series = answer["data"]["result"]
        counts.append((len(series), title, expr))
        assert series, (title, expr)
    with capsys.disabled():
        print(f"\n[prometheus] {len(counts)} dashboard queries, series each:")
        for count, title, expr in counts:
            print(f"  {count:3d}  {title}: {expr}")


def test_every_alert_expression_evaluates_and_its_query_returns_series(
    scraped: Prometheus, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = []
    for rule in alert_rules():
        expr = " ".join(rule["expr"].split())
        whole = scraped.query(expr)
        assert whole["status"] == "success", (rule["alert"], whole)
        found = THRESHOLD.match(expr)
        assert found is not None, f"{rule['alert']}: not `<query> <comparison> <bound>`"
        answer = scraped.query(found.group("query"))
        assert answer["status"] == "success", (rule["alert"], answer)
        series = answer["data"]["result"]
        assert series, (rule["alert"], found.group("query"))
        lines.append(
            f"  {rule['alert']}: query {len(series)} series, "
            f"firing now: {len(whole['data']['result'])}"
        )
    with capsys.disabled():
        print("\n[prometheus] alert expressions:\n" + "\n".join(lines))
