"""The deployment on loopback: three `badge serve` instances, Redis, PostgreSQL and Varnish
running deploy/varnish/default.vcl, all real processes on free ports.

The tests run in file order on one deployment, and each leaves it whole for the next. Each
prints its figures; loops are bounded in count and time.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.edge import Varnish
from tests.pg import PostgresCluster
from tests.servers import (
    ROOT,
    RedisServer,
    cli,
    end,
    free_port,
    get,
    token_claims,
    wait_for,
)

pytestmark = [pytest.mark.server, pytest.mark.redis, pytest.mark.postgres]

INSTANCES = 3


class Instance:
    """`badge serve`, as ops run it: uvicorn in its own process, logs to a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.env = env
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "badge", "serve", "--port", str(self.port)],
                env=self.env,
                cwd=ROOT,
                stdout=log,
                stderr=log,
            )

    def wait_ready(self) -> None:
        wait_for(lambda: get(self.base + "/readyz", timeout=1)[0] == 200, 30, "badge serve")

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait_exit(self, timeout: float = 15) -> int:
        assert self.process is not None
        code = self.process.wait(timeout=timeout)
        self.process = None
        return code

    def stop(self) -> None:
        if self.process is not None:
            end(self.process)
            self.process = None


@dataclass
class Deployment:
    env: dict[str, str]
    redis: RedisServer
    instances: list[Instance]
    varnish: Varnish
    token: str
    shops: dict[str, str] = field(default_factory=dict)

    @property
    def edge(self) -> str:
        return self.varnish.base


def _add_shop(env: dict[str, str], name: str, domain: str, body: int) -> str:
    digits = f"{body:08d}{97 - body % 97:02d}"
    number = f"{digits[:4]}.{digits[4:7]}.{digits[7:]}"
    result = cli(
        env,
        "shops",
        "add",
        "--name",
        name,
        "--legal-name",
        f"{name} BV",
        "--enterprise-number",
        number,
        "--domain",
        domain,
    )
    assert result.returncode == 0, result.stderr
    shop_id = result.stdout.strip().splitlines()[-1]
    # A new domain is pending until proven; the operator vouches for the test's domains.
    attested = cli(env, "domains", "attest", shop_id, domain, "--reason", "deployment test")
    assert attested.returncode == 0, attested.stderr
    return shop_id


@pytest.fixture(scope="module")
def deployment(
    pg_cluster: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    work = tmp_path_factory.mktemp("deploy")
    database = pg_cluster.create_database()
    redis = RedisServer(work)
    edge_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BADGE_")}
    env.update(
        BADGE_DATABASE_URL=database,
        BADGE_REDIS_URL=redis.url,
        # One keys directory for all: the shared volume of compose.yaml.
        BADGE_KEYS_DIR=str(work / "keys"),
        BADGE_PUBLIC_URL=f"http://127.0.0.1:{edge_port}",
        BADGE_PURGE_URLS=f"http://127.0.0.1:{edge_port}/",
        BADGE_RENDER_PROCESSES="0",
    )
    instances = [Instance(env, work / f"instance-{i}.log") for i in range(INSTANCES)]
    varnish = Varnish([i.port for i in instances], port=edge_port)
    try:
        redis.start()
        assert cli(env, "keys", "generate").returncode == 0
        shops = {
            "revoke-api": _add_shop(env, "Edge Een", "edge-een.be", 1_234_567),
            "revoke-cli": _add_shop(env, "Edge Twee", "edge-twee.be", 2_345_678),
            "steady": _add_shop(env, "Edge Drie", "edge-drie.be", 3_456_789),
        }
        made = cli(env, "tokens", "create", "deploy-test")
        assert made.returncode == 0, made.stderr
        for instance in instances:
            instance.spawn()
        for instance in instances:
            instance.wait_ready()
        varnish.start()
        yield Deployment(
            env=env,
            redis=redis,
            instances=instances,
            varnish=varnish,
            token=made.stdout.strip().splitlines()[-1],
            shops=shops,
        )
    finally:
        varnish.stop()
        for instance in instances:
            instance.stop()
        redis.stop()
        pg_cluster.drop_database(database)


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n[deploy] {line}", flush=True)


def edge_state(d: Deployment, shop_id: str, referer: str | None = None) -> tuple[str | None, str]:
    headers = {"Referer": referer} if referer else {}
    status, body, response = get(f"{d.edge}/b/{shop_id}.svg", headers, timeout=2)
    claims = token_claims(body) if status == 200 else None
    cache = {k.lower(): v for k, v in response.items()}.get("x-cache", "")
    return (None if claims is None else str(claims["state"])), cache


def wait_until_revoked(d: Deployment, shop_id: str, referers: list[str | None]) -> float:
    started = time.monotonic()
    pending = list(referers)
    while pending:
        pending = [r for r in pending if edge_state(d, shop_id, r)[0] != "revoked"]
        if pending:
            assert time.monotonic() - started < 1.0, "the edge still serves the thumbs-up"
            time.sleep(0.01)
    return time.monotonic() - started


def test_the_edge_caches_badges_tagged_with_the_shop(deployment: Deployment) -> None:
    d = deployment
    shop_id = d.shops["steady"]
    status, _, direct = get(f"{d.instances[0].base}/b/{shop_id}.svg")
    assert status == 200
    assert direct["xkey"] == f"shop-{shop_id} keurmerk"
    assert direct["surrogate-key"] == f"shop-{shop_id} keurmerk"
    assert direct["cache-tag"] == f"shop-{shop_id},keurmerk"
    edge_state(d, shop_id)
    state, cache = edge_state(d, shop_id)
    assert (state, cache) == ("certified", "HIT")
    _, _, raw = get(f"{d.edge}/b/{shop_id}.svg")
    headers = {name.lower(): value for name, value in raw.items()}
    # The edge keeps the keys to itself and passes the service's caching headers on.
    assert "xkey" not in headers
    assert headers["cache-control"].startswith("public, max-age=")
    etag = headers["etag"]
    assert get(f"{d.edge}/b/{shop_id}.svg", {"If-None-Match": etag})[0] == 304
    # Cookies are dropped, not keyed on: a request with one is still a hit.
    cookie = get(f"{d.edge}/b/{shop_id}.svg", {"Cookie": "session=abc"})[2]
    assert {k.lower(): v for k, v in cookie.items()}["x-cache"] == "HIT"
    # What the service marks no-cache (pages) or no-store (health) is never served from cache.
    for path in (f"/v/{shop_id}", f"/v/{shop_id}", "/healthz", "/healthz"):
        status, _, page = get(d.edge + path)
        assert status == 200
        assert {k.lower(): v for k, v in page.items()}["x-cache"] == "MISS", path
    assert purge(d.varnish.port, None) == 400  # which keys?


def purge(port: int, keys: str | None) -> int:
    request = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        request.request("PURGE", "/", headers={"xkey-purge": keys} if keys else {})
        return request.getresponse().status
    finally:
        request.close()


def test_only_the_acl_may_purge(deployment: Deployment) -> None:
    d = deployment
    shop_id = d.shops["steady"]
    # An edge whose ACL names another host: loopback is outside it.
    guarded = Varnish([d.instances[0].port], purgers=["192.0.2.10"])
    guarded.start()
    try:
        get(f"{guarded.base}/b/{shop_id}.svg")
        assert purge(guarded.port, f"shop-{shop_id}") == 403
        status, _, headers = get(f"{guarded.base}/b/{shop_id}.svg")
        assert status == 200
        assert {k.lower(): v for k, v in headers.items()}["x-cache"] == "HIT"
    finally:
        guarded.stop()
    assert purge(d.varnish.port, f"shop-{shop_id}") == 200


def test_the_edge_keys_badges_by_the_referers_host(deployment: Deployment) -> None:
    d = deployment
    url = f"{d.edge}/b/{d.shops['steady']}.svg?size=l&lang=de"

    def cache(referer: str | None) -> str:
        headers = {"Referer": referer} if referer else {}
        status, _, response = get(url, headers)
        assert status == 200
        return {k.lower(): v for k, v in response.items()}["x-cache"]

    assert cache("https://edge-drie.be/winkel/mand") == "MISS"
    # Same host, another page, another case, a port, a trailing dot: one object.
    assert cache("https://edge-drie.be/") == "HIT"
    assert cache("HTTP://EDGE-DRIE.BE:8443/x?y=1") == "HIT"
    assert cache("https://edge-drie.be./") == "HIT"
    # Another host, or none: objects of their own.
    assert cache("https://www.elsewhere.example/") == "MISS"
    assert cache("https://www.elsewhere.example/other") == "HIT"
    assert cache(None) == "MISS"
    assert cache(None) == "HIT"
    # And each object is the variant the service decides for its class: the edge never hands
    # one page's badge to another.
    for _ in range(2):
        for referer, variant in (
            ("https://EDGE-DRIE.be:443/any", "certified"),
            ("https://www.elsewhere.example/x", "mismatch"),
            ("https://user@edge-drie.be/", "mismatch"),
            (None, "neutral"),
        ):
            headers = {"Referer": referer} if referer else {}
            claims = token_claims(get(url, headers)[1])
            assert claims is not None and claims["variant"] == variant, (referer, claims)
    # Query order does not split the cache.
    status, _, response = get(f"{d.edge}/b/{d.shops['steady']}.svg?lang=de&size=l")
    assert status == 200
    assert {k.lower(): v for k, v in response.items()}["x-cache"] == "HIT"


def test_a_revocation_is_visible_through_the_edge_within_a_second(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    d = deployment
    referers = [None, "https://edge-een.be/winkel", "https://elsewhere.example/"]
    shop_id = d.shops["revoke-api"]
    for referer in referers:
        edge_state(d, shop_id, referer)
        assert edge_state(d, shop_id, referer) == ("certified", "HIT")

    # Through the admin API of one instance: the others learn it from Redis and purge too.
    request = http.client.HTTPConnection("127.0.0.1", d.instances[1].port, timeout=5)
    try:
        request.request(
            "POST",
            f"/admin/api/v1/shops/{shop_id}/state",
            body=json.dumps({"state": "revoked", "reason": "deployment test"}),
            headers={"Authorization": f"Bearer {d.token}", "Content-Type": "application/json"},
        )
        assert request.getresponse().status == 200
    finally:
        request.close()
    api_delay = wait_until_revoked(d, shop_id, referers)

    # Through the CLI in another process, which is not told where the edge is: only the
    # instances, reacting to the change, can purge it.
    shop_id = d.shops["revoke-cli"]
    for referer in referers:
        edge_state(d, shop_id, referer)
        assert edge_state(d, shop_id, referer) == ("certified", "HIT")
    env = {k: v for k, v in d.env.items() if k != "BADGE_PURGE_URLS"}
    result = cli(env, "shops", "set-state", shop_id, "revoked", "--reason", "deployment test")
    assert result.returncode == 0, result.stderr
    cli_delay = wait_until_revoked(d, shop_id, referers)
    report(
        capsys,
        f"(a) revocation visible through the edge after {api_delay * 1000:.0f} ms "
        f"(admin API) and {cli_delay * 1000:.0f} ms (CLI, purged by the instances); "
        f"{len(referers)} Referer classes each",
    )
    purged = [metric(i, "badge_edge_purges_total", result="ok") for i in d.instances]
    assert all(count >= 1 for count in purged), purged


def metric(instance: Instance, name: str, **labels: str) -> float:
    _, body, _ = get(instance.base + "/metrics")
    total = 0.0
    for line in body.decode().splitlines():
        if not line.startswith(name):
            continue
        found = re.match(r"(\w+)(?:\{(.*)\})? (\S+)$", line)
        if found is None or found.group(1) != name:
            continue
        pairs = dict(re.findall(r'(\w+)="([^"]*)"', found.group(2) or ""))
        if all(pairs.get(k) == v for k, v in labels.items()):
            total += float(found.group(3))
    return total


def test_b_requests_spread_over_the_instances(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    d = deployment
    shop_id = d.shops["steady"]
    before = [metric(i, "badge_responses_total", status="200") for i in d.instances]
    variants = [
        f"/b/{shop_id}.svg?lang={lang}&size={size}&d={host}"
        for lang in ("nl", "fr", "de", "en")
        for size in ("s", "l")
        for host in ("edge-drie.be", "elsewhere.example", "other.example")
    ]
    for path in variants:  # each a miss, so each reaches an instance
        assert get(d.edge + path)[0] == 200
    served = [
        metric(i, "badge_responses_total", status="200") - b
        for i, b in zip(d.instances, before, strict=True)
    ]
    report(capsys, f"(b) {len(variants)} edge misses served by the instances: {served}")
    assert sum(served) == len(variants)
    assert min(served) >= len(variants) // (2 * INSTANCES), served


# Each load thread waits this long between requests: a few hundred requests a second keep
# every instance busy through a kill or restart without taking the cores from the rest of
# the suite. Throughput is what `make bench` and `make loadtest` measure.
PACE = 0.01


class Load:
    """Clients hitting the edge from threads: cached badges and uncached pages."""

    def __init__(self, d: Deployment, threads: int = 4) -> None:
        self.d = d
        self.threads = threads
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []
        self.workers: list[threading.Thread] = []
        shop_id = d.shops["steady"]
        self.paths = [
            f"/b/{shop_id}.svg",
            f"/v/{shop_id}",  # never cached: every one reaches an instance
            f"/b/{shop_id}.svg?size=s",
            f"/api/v1/shops/{shop_id}",
            f"/v/{shop_id}?lang=fr",
        ]

    def __enter__(self) -> Load:
        for _ in range(self.threads):
            worker = threading.Thread(target=self._run, daemon=True)
            worker.start()
            self.workers.append(worker)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for worker in self.workers:
            worker.join(timeout=15)

    def _run(self) -> None:
        connection: http.client.HTTPConnection | None = None
        deadline = time.monotonic() + 60  # bounded even if the test body fails
        index = 0
        while not self.stop.is_set() and time.monotonic() < deadline:
            path = self.paths[index % len(self.paths)]
            index += 1
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(
                        "127.0.0.1", self.d.varnish.port, timeout=10
                    )
                connection.request("GET", path, headers={"Referer": "https://edge-drie.be/"})
                response = connection.getresponse()
                response.read()
                with self.lock:
                    self.statuses[response.status] += 1
                    if response.status not in (200, 304):
                        self.failures.append(f"{path}: HTTP {response.status}")
            except (OSError, http.client.HTTPException) as exc:
                with self.lock:
                    self.failures.append(f"{path}: {type(exc).__name__}")
                if connection is not None:
                    connection.close()
                connection = None
            self.stop.wait(PACE)
        if connection is not None:
            connection.close()

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    def errors_5xx(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)


def backend_requests(d: Deployment, index: int) -> float:
    return metric(d.instances[index], "badge_responses_total")


def test_c_one_instance_killed_under_load(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    d = deployment
    victim = d.instances[2]
    with Load(d) as load:
        wait_for(lambda: load.total >= 50, 10, "load through the edge")
        victim.signal(signal.SIGKILL)
        victim.wait_exit()
        killed_at = load.total
        wait_for(lambda: load.total - killed_at > 200, 15, "requests after the kill")
    report(
        capsys,
        f"(c) one of {INSTANCES} instances killed under load: {load.total} requests at the "
        f"edge ({load.total - killed_at} after the kill), {len(load.failures)} errors",
    )
    assert load.failures == []
    assert load.total - killed_at > 50
    victim.spawn()
    victim.wait_ready()


def test_d_redis_killed_under_load(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    d = deployment
    with Load(d) as load:
        wait_for(lambda: load.total >= 50, 10, "load through the edge")
        d.redis.stop()  # SIGKILL
        killed_at = load.total
        # Long enough for every instance to notice the bus is gone and carry on without it.
        for instance in d.instances:
            wait_for(
                lambda i=instance: metric(i, "badge_redis_bus_subscribed") == 0.0, 15, "bus down"
            )
        wait_for(lambda: load.total - killed_at > 200, 15, "requests during the outage")
        outage = load.total - killed_at
    report(
        capsys,
        f"(d) Redis killed under load: {load.total} requests at the edge ({outage} during the "
        f"outage), {load.errors_5xx()} 5xx, statuses {dict(load.statuses)}",
    )
    assert load.errors_5xx() == 0, load.failures[:5]
    assert outage > 50
    d.redis.start()
    # Every instance resubscribes on its own.
    for instance in d.instances:
        wait_for(lambda i=instance: metric(i, "badge_redis_bus_subscribed") == 1.0, 15, "bus back")


def test_e_rolling_restart_by_sigterm(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    d = deployment
    shop_id = d.shops["steady"]
    drained: list[int] = []
    with Load(d) as load:
        for round_, instance in enumerate(d.instances):
            # Requests in flight when SIGTERM arrives: new PNG variants, each a render.
            paths = [
                f"/b/{shop_id}.png?scale=3&size={size}&lang={lang}&d=r{round_}.example"
                for size in ("s", "m", "l")
                for lang in ("nl", "fr")
            ]
            finished = instance.log.read_text().count("Finished server process")
            with ThreadPoolExecutor(len(paths)) as pool:
                futures = [pool.submit(get, instance.base + p, None, 15) for p in paths]
                time.sleep(0.05)
                instance.signal(signal.SIGTERM)
                statuses = [future.result()[0] for future in futures]
            # uvicorn re-raises SIGTERM once it has shut down cleanly.
            assert instance.wait_exit() in (0, -signal.SIGTERM)
            assert instance.log.read_text().count("Finished server process") == finished + 1
            drained.append(sum(status == 200 for status in statuses))
            assert statuses == [200] * len(paths), statuses
            instance.spawn()
            instance.wait_ready()
            time.sleep(1.5)  # two good probes: Varnish sends it traffic again
    report(
        capsys,
        f"(e) rolling restart of {INSTANCES} instances by SIGTERM under load: "
        f"{load.total} requests at the edge, {len(load.failures)} errors; in-flight renders "
        f"drained per instance: {drained}",
    )
    assert load.failures == []


def test_instances_agree_on_keys_and_serve_the_union(
    deployment: Deployment, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fourth instance with its own keys directory says so loudly and still verifies."""
    d = deployment
    env = dict(d.env, BADGE_KEYS_DIR=str(tmp_path / "other-keys"))
    stray = Instance(env, tmp_path / "stray.log")
    stray.spawn()
    try:
        stray.wait_ready()
        log = stray.log.read_text()
        assert "KEYS DISAGREE" in log, log[-2000:]
        kids = {
            key["kid"] for key in json.loads(get(stray.base + "/.well-known/jwks.json")[1])["keys"]
        }
        shared_kids = {
            key["kid"]
            for key in json.loads(get(d.instances[0].base + "/.well-known/jwks.json")[1])["keys"]
        }
        # The stray serves the shared keys as well as its own, so badges from any instance
        # verify against any instance's JWKS.
        assert shared_kids < kids
        report(capsys, f"keys: the stray instance warned and serves {len(kids)} keys")
    finally:
        stray.stop()
    quiet = d.instances[0].log.read_text()
    assert "KEYS DISAGREE" not in quiet
