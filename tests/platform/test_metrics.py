"""Every metric the dashboard and the alerts read, from a real server's /metrics.

The service runs under uvicorn with a real redis-server and two real edges to purge (one
that answers 200, one that answers 500); each test sends real requests and reads the
counts back through prometheus-client's own parser of the exposition format.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.platform.test_purge import RecordingEdge
from tests.servers import RedisServer, Service, cli, get, service_env, wait_for

pytestmark = [pytest.mark.server, pytest.mark.redis]


def scrape(base: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    status, body, headers = get(base + "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=")
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(base: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in scrape(base).items() if n == name and wanted <= ls)


def add_shop(env: dict[str, str], domain: str, body: int, state: str = "certified") -> str:
    digits = f"{body:08d}{97 - body % 97:02d}"
    result = cli(
        env, "shops", "add", "--name", f"Shop {domain}", "--legal-name", f"{domain} BV",
        "--enterprise-number", f"{digits[:4]}.{digits[4:7]}.{digits[7:]}",
        "--domain", domain, "--state", state,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    shop_id = result.stdout.strip().splitlines()[-1]
    # Only a proven domain gives the certified badge; an operator's attestation proves it.
    attested = cli(env, "domains", "attest", shop_id, domain, "--reason", "test shop")
    assert attested.returncode == 0, attested.stderr
    return shop_id


@dataclass
class Running:
    service: Service
    env: dict[str, str]
    redis: RedisServer
    good_edge: RecordingEdge
    bad_edge: RecordingEdge
    certified: str
    revoked: str
    token: str
    db: Path

    @property
    def base(self) -> str:
        return self.service.base


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("metrics")
    redis = RedisServer(tmp)
    good, bad = RecordingEdge(), RecordingEdge()
    bad.status = 500
    for edge in (good, bad):
        edge.thread.start()
    env = service_env(
        tmp,
        BADGE_REDIS_URL=redis.url,
        BADGE_PURGE_URLS=f"{good.url},{bad.url}",
        BADGE_RATE_LOOKUPS="2",
        BADGE_RENDER_PROCESSES="0",
    )
    service = Service(env)
    try:
        redis.start()
        certified = add_shop(env, "metrics-een.be", 1_111_111)
        revoked = add_shop(env, "metrics-twee.be", 2_222_222, state="revoked")
        made = cli(env, "tokens", "create", "metrics")
        assert made.returncode == 0, made.stderr
        service.start()
        yield Running(
            service, env, redis, good, bad, certified, revoked,
            made.stdout.strip().splitlines()[-1], tmp / "badge.db",
        )  # fmt: skip
    finally:
        service.stop()
        redis.stop()
        for edge in (good, bad):
            edge.server.shutdown()
            edge.server.server_close()


def test_badge_latency_by_route_and_variant(running: Running) -> None:
    r = running
    before = scrape(r.base)
    own, foreign = {"Referer": "https://metrics-een.be/p"}, {"Referer": "https://else.example/"}
    sent = [
        (f"/b/{r.certified}.svg", own, "/b/{shop_id}.svg", "certified", 200),
        (f"/b/{r.certified}.svg", foreign, "/b/{shop_id}.svg", "mismatch", 200),
        (f"/b/{r.certified}.png", {}, "/b/{shop_id}.png", "neutral", 200),
        (f"/b/{r.revoked}.svg", own, "/b/{shop_id}.svg", "not_certified", 200),
        ("/b/AAAAAAAAAAAAAAAAAAAAAA.svg", {}, "/b/{shop_id}.svg", "unknown", 404),
        (f"/b/{r.certified}.svg?size=huge", {}, "/b/{shop_id}.svg", "error", 400),
    ]
    for path, headers, *_ in sent:
        for _ in range(3):
            get(r.base + path, headers)
    after = scrape(r.base)

    def delta(name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return after.get(key, 0.0) - before.get(key, 0.0)

    for _, _, route, variant, status in sent:
        count = delta("badge_request_duration_seconds_count", route=route, variant=variant)
        assert count == 3, (route, variant)
        infinite = delta("badge_request_duration_seconds_bucket", route=route, variant=variant,
                         le="+Inf")  # fmt: skip
        assert infinite == 3
        total = delta("badge_request_duration_seconds_sum", route=route, variant=variant)
        # In-process time: more than nothing, far less than the test's round trips.
        assert 0 < total < 3.0
        assert delta("badge_http_responses_total", route=route, status=str(status)) >= 3
    # Buckets are cumulative and end at the count.
    buckets = sorted(
        (float(dict(labels)["le"]), v)
        for (name, labels), v in after.items()
        if name == "badge_request_duration_seconds_bucket"
        and dict(labels)["route"] == "/b/{shop_id}.svg"
        and dict(labels)["variant"] == "certified"
    )
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)
    assert buckets[-1][0] == float("inf")


def test_pages_and_apis_by_route_template(running: Running) -> None:
    r = running
    before = value(r.base, "badge_http_responses_total", route="/v/{shop_id}", status="200")
    for _ in range(2):  # the second is a prepared response, counted under the same route
        assert get(f"{r.base}/v/{r.certified}")[0] == 200
    assert get(f"{r.base}/admin/api/v1/shops")[0] == 401
    auth = {"Authorization": f"Bearer {r.token}"}
    assert get(f"{r.base}/admin/api/v1/shops/{r.certified}", auth)[0] == 200
    assert get(f"{r.base}/no/such/page")[0] == 404
    after = value(r.base, "badge_http_responses_total", route="/v/{shop_id}", status="200")
    assert after - before == 2
    assert value(r.base, "badge_http_responses_total", route="/admin/api/v1/*", status="401") >= 1
    assert value(
        r.base, "badge_http_responses_total", route="/admin/api/v1/shops/{shop_id}", status="200"
    ) >= 1  # fmt: skip
    assert value(r.base, "badge_http_responses_total", route="unmatched", status="404") >= 1
    assert value(r.base, "badge_request_duration_seconds_count", route="/v/{shop_id}") >= 2


def test_hit_ratio_and_renders(running: Running) -> None:
    r = running
    path = f"/b/{r.certified}.svg?lang=fr&size=s"
    hits = value(r.base, "badge_hotpath_lookups_total", result="hit")
    misses = value(r.base, "badge_hotpath_lookups_total", result="miss")
    renders = value(r.base, "badge_renders_total")
    for _ in range(5):
        assert get(r.base + path)[0] == 200
    # The first is a new variant (a miss and a render); the other four come from memory.
    assert value(r.base, "badge_hotpath_lookups_total", result="miss") - misses == 1
    assert value(r.base, "badge_hotpath_lookups_total", result="hit") - hits == 4
    assert value(r.base, "badge_renders_total") - renders == 1


def test_purges_ok_and_failed(running: Running) -> None:
    r = running
    body = json.dumps({"state": "suspended", "reason": "metrics test"})
    connection = http.client.HTTPConnection("127.0.0.1", r.service.port, timeout=10)
    try:
        connection.request(
            "POST", f"/admin/api/v1/shops/{r.certified}/state", body=body,
            headers={"Authorization": f"Bearer {r.token}", "Content-Type": "application/json"},
        )  # fmt: skip
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    good, bad = r.good_edge.url, r.bad_edge.url
    wait_for(lambda: value(r.base, "badge_edge_purges_total", edge=good, result="ok") >= 1, 5,
             "a purge at the good edge")  # fmt: skip
    # Five attempts 0.2 s apart, doubling: the bad edge gives up after about 3 s.
    wait_for(lambda: value(r.base, "badge_edge_purges_total", edge=bad, result="failed") >= 1,
             10, "a failed purge")  # fmt: skip
    assert value(r.base, "badge_edge_purges_total", edge=bad, result="retried") >= 4
    assert value(r.base, "badge_edge_purges_total", edge=bad, result="ok") == 0
    assert value(r.base, "badge_edge_purge_pending", edge=good) == 0


def test_rate_limit_refusals(running: Running) -> None:
    r = running
    before = value(r.base, "badge_rate_limited_total", bucket="lookups")
    statuses = [get(f"{r.base}/api/v1/lookup?domain=metrics-een.be")[0] for _ in range(4)]
    assert statuses.count(429) >= 2
    assert value(r.base, "badge_rate_limited_total", bucket="lookups") - before == statuses.count(
        429
    )


def test_registry_latency_and_errors(running: Running) -> None:
    r = running
    reads = value(r.base, "badge_registry_duration_seconds_count", kind="read")
    auth = {"Authorization": f"Bearer {r.token}"}
    assert get(f"{r.base}/admin/api/v1/shops/{r.revoked}/history", auth)[0] == 200
    assert value(r.base, "badge_registry_duration_seconds_count", kind="read") > reads
    assert value(r.base, "badge_registry_duration_seconds_sum", kind="read") > 0
    errors = value(r.base, "badge_registry_errors_total", kind="write")
    # Another process holds SQLite's write lock past the service's busy timeout (5 s): the
    # state change cannot be written, and says so.
    holder = sqlite3.connect(r.db, isolation_level=None, timeout=1)
    holder.execute("BEGIN IMMEDIATE")
    try:
        body = json.dumps({"state": "revoked", "reason": "metrics test"})
        connection = http.client.HTTPConnection("127.0.0.1", r.service.port, timeout=20)
        connection.request(
            "POST", f"/admin/api/v1/shops/{r.certified}/state", body=body,
            headers={"Authorization": f"Bearer {r.token}", "Content-Type": "application/json"},
        )  # fmt: skip
        status = connection.getresponse().status
        connection.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert status >= 500
    assert value(r.base, "badge_registry_errors_total", kind="write") - errors >= 1


def test_dropped_sightings(running: Running) -> None:
    """More one-off `d=` hosts for one shop than a flush keeps: the surplus is counted."""
    r = running
    stop = time.monotonic() + 25
    sent = [0]
    lock = threading.Lock()

    def send(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", r.service.port, timeout=5)
        try:
            for n in range(offset, offset + 1500):
                if time.monotonic() > stop:
                    return
                connection.request("GET", f"/b/{r.revoked}.svg?d=h{n}.example")
                connection.getresponse().read()
                with lock:
                    sent[0] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i * 1500,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The flush runs every 5 s; a burst of 4 500 hosts puts over 1 000 in one of them.
    wait_for(lambda: value(r.base, "badge_sightings_dropped_total") > 0, 12, "dropped sightings")
    assert value(r.base, "badge_sightings_dropped_total", reason="bounds") > 0, sent


def test_bus_state(running: Running) -> None:
    r = running
    assert value(r.base, "badge_redis_bus_state", state="subscribed") == 1
    assert value(r.base, "badge_redis_bus_subscribed") == 1
    r.redis.stop()
    try:
        wait_for(lambda: value(r.base, "badge_redis_bus_state", state="down") == 1, 10, "bus down")
        assert value(r.base, "badge_redis_bus_state", state="subscribed") == 0
        assert value(r.base, "badge_redis_bus_subscribed") == 0
    finally:
        r.redis.start()
    wait_for(lambda: value(r.base, "badge_redis_bus_state", state="subscribed") == 1, 10, "back")


def test_key_disagreement(tmp_path: Path) -> None:
    redis = RedisServer(tmp_path)
    redis.start()
    shared = service_env(tmp_path, BADGE_REDIS_URL=redis.url, BADGE_RENDER_PROCESSES="0")
    stray_env = dict(shared, BADGE_KEYS_DIR=str(tmp_path / "other-keys"))
    first, stray = Service(shared), Service(stray_env)
    try:
        first.start()
        assert value(first.base, "badge_keys_disagree") == 0
        stray.start()
        assert value(stray.base, "badge_keys_disagree") == 1
        assert value(stray.base, "badge_keys_other_instances") == 1
    finally:
        stray.stop()
        first.stop()
        redis.stop()
