"""Faults across the whole stack on loopback: Varnish with deploy/varnish/default.vcl, two
`badge serve` instances, Redis and a PostgreSQL of its own, all real processes.

Slow (about a minute and a half) and bounded: marked `fault`, and part of `make test`. Each test
prints its figures: requests, 5xx, how long badges kept their last state, time to recover.
"""

from __future__ import annotations

import http.client
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from badge.errors import Unavailable
from badge.registry.postgres import PostgresRegistry
from tests.edge import Varnish
from tests.pg import PostgresCluster
from tests.servers import RedisServer, cli, free_port, get, token_claims, wait_for
from tests.test_deploy import PACE, Instance, _add_shop, metric

pytestmark = [pytest.mark.server, pytest.mark.redis, pytest.mark.postgres, pytest.mark.fault]

STALE_LIMIT = 12.0
OUTAGE = 30.0
# With Redis down too, badges turn neutral by STALE_LIMIT + 4 s: 20 s shows the whole path.
STALE_OUTAGE = 20.0
# Seconds from the restart until every instance is ready again.
RECOVERY = 10.0


@dataclass
class Stack:
    env: dict[str, str]
    pg: PostgresCluster
    redis: RedisServer
    instances: list[Instance]
    varnish: Varnish
    shop: str
    other: str

    @property
    def edge(self) -> str:
        return self.varnish.base


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("faults")
    pg = PostgresCluster()
    redis = RedisServer(work)
    edge_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BADGE_")}
    instances: list[Instance] = []
    varnish = Varnish([], port=edge_port)
    try:
        pg.start()
        redis.start()
        env.update(
            BADGE_DATABASE_URL=pg.create_database(),
            BADGE_REDIS_URL=redis.url,
            BADGE_KEYS_DIR=str(work / "keys"),
            BADGE_PUBLIC_URL=f"http://127.0.0.1:{edge_port}",
            BADGE_PURGE_URLS=f"http://127.0.0.1:{edge_port}/",
            BADGE_RENDER_PROCESSES="0",
            BADGE_STALE_LIMIT=str(STALE_LIMIT),
        )
        assert cli(env, "keys", "generate").returncode == 0
        shop = _add_shop(env, "Fout Een", "fout-een.be", 4_567_891)
        other = _add_shop(env, "Fout Twee", "fout-twee.be", 5_678_912)
        instances.extend(Instance(env, work / f"instance-{i}.log") for i in range(2))
        for instance in instances:
            instance.spawn()
        for instance in instances:
            instance.wait_ready()
        varnish.backends = [i.port for i in instances]
        varnish.start()
        yield Stack(env, pg, redis, instances, varnish, shop, other)
    finally:
        varnish.stop()
        for instance in instances:
            instance.stop()
        redis.stop()
        pg.stop()


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n[fault] {line}", flush=True)


@dataclass
class EmbedLoad:
    """Browsers showing badges through the edge: the shop's own site, a foreign one, none,
    and revalidations with If-None-Match. Counts every status; connection errors apart."""

    port: int
    shop: str
    threads: int = 4
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[int] = field(default_factory=Counter)
    refused: int = 0
    workers: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> EmbedLoad:
        for n in range(self.threads):
            worker = threading.Thread(target=self._run, args=(n,), daemon=True)
            worker.start()
            self.workers.append(worker)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for worker in self.workers:
            worker.join(timeout=15)

    def _run(self, n: int) -> None:
        referers = ["https://fout-een.be/winkel", "https://elders.example/", None]
        etags: dict[tuple[str, str | None], str] = {}
        connection: http.client.HTTPConnection | None = None
        deadline = time.monotonic() + 120  # bounded even if the test body fails
        index = n
        while not self.stop.is_set() and time.monotonic() < deadline:
            index += 1
            path = f"/b/{self.shop}.svg" if index % 3 else f"/b/{self.shop}.png?size=s"
            referer = referers[index % len(referers)]
            headers = {"Referer": referer} if referer else {}
            etag = etags.get((path, referer))
            if etag is not None and index % 2:
                headers["If-None-Match"] = etag
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status == 200 and response.getheader("etag"):
                    etags[(path, referer)] = response.getheader("etag", "")
                with self.lock:
                    self.statuses[response.status] += 1
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.refused += 1
                if connection is not None:
                    connection.close()
                connection = None
                time.sleep(0.02)
            self.stop.wait(PACE)
        if connection is not None:
            connection.close()

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.statuses.values())

    def errors_5xx(self) -> int:
        with self.lock:
            return sum(count for status, count in self.statuses.items() if status >= 500)


def direct_state(instance: Instance, shop: str) -> str:
    """What an instance itself serves for the shop's own site: its state, or the status."""
    status, body, _ = get(
        f"{instance.base}/b/{shop}.svg?size=l", {"Referer": "https://fout-een.be/"}, timeout=3
    )
    claims = token_claims(body) if status == 200 else None
    return str(claims["state"]) if claims else f"HTTP {status}"


@dataclass
class Outage:
    """What one outage under load looked like, from the edge and from each instance."""

    requests: int = 0
    during: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    errors_5xx: int = 0
    refused: int = 0
    # (seconds into the outage when asked, instance, its answer, its change feed age)
    timeline: list[tuple[float, int, str, float]] = field(default_factory=list)
    registry_errors: float = 0
    # When the stopped services were started again (time.monotonic()).
    up_at: float = 0
    ready_after: float = 0
    certified_after: float = 0
    change_after: float = 0

    def kept(self, instance: int) -> float:
        """Until when into the outage the instance still served the last state."""
        times = [t for t, i, state, _ in self.timeline if i == instance and state == "certified"]
        return max(times, default=0.0)

    def neutral_at(self, instance: int) -> float | None:
        times = [t for t, i, state, _ in self.timeline if i == instance and state != "certified"]
        return min(times, default=None)

    def line(self) -> str:
        instances = sorted({i for _, i, _, _ in self.timeline})
        kept = [f"{self.kept(i):.1f}" for i in instances]
        neutral = [f"{n:.1f}" if (n := self.neutral_at(i)) is not None else "never"
                   for i in instances]  # fmt: skip
        answers = sorted({state for _, _, state, _ in self.timeline})
        return (
            f"{self.requests} requests at the edge ({self.during} during the outage), "
            f"{self.errors_5xx} 5xx, statuses {self.statuses}, {self.refused} connection "
            f"errors; instances answered {answers}: last state served until {kept} s, "
            f"neutral from {neutral} s into the outage (per instance); registry errors "
            f"counted {self.registry_errors:.0f}; "
            f"ready {self.ready_after:.1f} s and certified {self.certified_after:.1f} s after "
            f"the restart; the next change at the edge {self.change_after * 1000:.0f} ms after "
            f"the CLI made it"
        )


def outage_under_load(s: Stack, down: list[Callable[[], None]], up: list[Callable[[], None]],
                      change_to: str, outage: float = OUTAGE) -> Outage:  # fmt: skip
    """Stop what `down` stops for `outage` seconds under embed load, start it again, then check
    that badges come back and that a change (to `change_to`) reaches the edge."""
    for instance in s.instances:
        assert direct_state(instance, s.shop) == "certified"
    seen = Outage()
    errors_before = sum(metric(i, "badge_registry_errors_total") for i in s.instances)
    with EmbedLoad(s.varnish.port, s.shop) as load:
        wait_for(lambda: load.total >= 100, 15, "load through the edge")
        before = load.total
        for stop in down:
            stop()
        down_at = time.monotonic()
        while time.monotonic() - down_at < outage:
            for n, instance in enumerate(s.instances):
                asked = round(time.monotonic() - down_at, 1)
                state = direct_state(instance, s.shop)
                age = metric(instance, "badge_change_feed_age_seconds")
                seen.timeline.append((asked, n, state, age))
            time.sleep(0.25)
        seen.during = load.total - before
        for start in up:
            start()
        up_at = seen.up_at = time.monotonic()
        for instance in s.instances:
            wait_for(lambda i=instance: get(i.base + "/readyz", timeout=2)[0] == 200, 30, "ready")
        seen.ready_after = time.monotonic() - up_at
        for instance in s.instances:
            wait_for(lambda i=instance: direct_state(i, s.shop) == "certified", 15, "certified")
        seen.certified_after = time.monotonic() - up_at
        # The next change reaches the edge: made by the CLI, purged by the instances.
        result = cli(s.env, "shops", "set-state", s.other, change_to, "--reason", "fault test")
        assert result.returncode == 0, result.stderr
        changed_at = time.monotonic()
        wait_for(lambda: edge_state(s, s.other) == change_to, 5, "the change at the edge")
        seen.change_after = time.monotonic() - changed_at
    seen.requests, seen.statuses = load.total, dict(load.statuses)
    seen.errors_5xx, seen.refused = load.errors_5xx(), load.refused
    after = sum(metric(i, "badge_registry_errors_total") for i in s.instances)
    seen.registry_errors = after - errors_before
    return seen


def edge_state(s: Stack, shop: str) -> str | None:
    claims = token_claims(get(f"{s.edge}/b/{shop}.svg", timeout=3)[1])
    return None if claims is None else str(claims["state"])


class RegistryProbe:
    """A PostgreSQL registry of the test's own, pinged through an outage. psycopg's pool
    retries a lost connection with a delay doubling from 1 s. The probe starts asking 10 s
    into the outage, so that without a bound on those retries the pool's next attempt would
    come 10 s or so after the database is back (at 10 + 1 + 2 + 4 + 8 + 16 s)."""

    QUIET = 10.0

    def __init__(self, url: str) -> None:
        self.registry = PostgresRegistry(url)
        self.registry.ping()
        self.failed = 0
        self.answered: list[float] = []
        self.unexpected: list[str] = []
        self.down = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RegistryProbe:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=15)
        self.registry.close()

    def _run(self) -> None:
        deadline = time.monotonic() + 180  # bounded even if the test body fails
        if not self.down.wait(60) or self.stop.wait(self.QUIET):
            return
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                self.registry.ping()  # down: Unavailable once the pool's wait (3 s) is over
            except Unavailable:
                self.failed += 1
            except Exception as exc:  # anything else is the test's finding
                self.unexpected.append(repr(exc))
            else:
                self.answered.append(time.monotonic())
            self.stop.wait(0.1)

    def back_after(self, up_at: float) -> float | None:
        return min((t - up_at for t in self.answered if t >= up_at), default=None)


def test_a_postgres_stopped_for_30_s_under_load(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    """Redis stays up: its bus vouches that nothing changed (no change can be made without
    the registry), so instances serve the last state throughout, and nothing is a 5xx. A
    registry pool of the test's own comes back at once when PostgreSQL does."""
    s = stack
    with RegistryProbe(s.env["BADGE_DATABASE_URL"]) as probe:
        seen = outage_under_load(s, [s.pg.halt, probe.down.set], [s.pg.resume], "suspended")
        # The instances may be back before the probe's pool: give it twice the bound below.
        while probe.back_after(seen.up_at) is None and time.monotonic() < seen.up_at + 10:
            time.sleep(0.1)
    back_after = probe.back_after(seen.up_at)
    back = "never" if back_after is None else f"{back_after:.1f} s after PostgreSQL was back"
    report(capsys, f"(1) PostgreSQL stopped {OUTAGE:.0f} s, Redis up: {seen.line()}")
    report(capsys, f"(1) registry pool: {probe.failed} pings failed during the outage; back {back}")
    assert seen.errors_5xx == 0 and seen.refused == 0
    assert seen.during > 100
    assert seen.registry_errors >= 1
    # The registry's pool retries at once, not after a backoff as long as the outage.
    assert seen.ready_after < RECOVERY
    assert probe.unexpected == [] and probe.failed >= 1
    assert back_after is not None and back_after < 5.0
    assert all(seen.kept(n) >= OUTAGE - 1.5 for n in range(len(s.instances)))
    assert seen.change_after < 1.0


def test_b_postgres_and_redis_stopped_for_20_s_under_load(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing vouches for the cached state: it is served for BADGE_STALE_LIMIT, then the
    instances answer with the neutral badge (503); the edge keeps its copies, no 5xx."""
    s = stack
    seen = outage_under_load(
        s, [s.pg.halt, s.redis.stop], [s.redis.start, s.pg.resume], "certified", STALE_OUTAGE
    )
    report(
        capsys,
        f"(1b) PostgreSQL and Redis stopped {STALE_OUTAGE:.0f} s "
        f"(BADGE_STALE_LIMIT={STALE_LIMIT:.0f} s): {seen.line()}",
    )
    assert seen.errors_5xx == 0 and seen.refused == 0
    assert seen.during > 100
    for n in range(len(s.instances)):
        neutral_at = seen.neutral_at(n)
        # The last state until the bound, then neutral: a request that misses the cache
        # waits for the registry's connect timeout (3 s) before it answers 503.
        assert STALE_LIMIT - 1.5 <= seen.kept(n) <= STALE_LIMIT + 1.0, seen.timeline
        assert neutral_at is not None and neutral_at <= STALE_LIMIT + 4.0, seen.timeline
    answers = {state for _, _, state, _ in seen.timeline}
    assert answers <= {"certified", "HTTP 503"}, answers
    assert seen.ready_after < RECOVERY
    # Never the thumbs-up from a cache the change feed and the bus stopped vouching for.
    for at, n, state, age in seen.timeline:
        assert state != "certified" or age <= STALE_LIMIT + 1.0, (at, n, state, age)
    assert seen.change_after < 1.0


def test_c_varnish_restarted_under_load(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    s = stack

    def served() -> float:
        return sum(metric(i, "badge_http_responses_total") for i in s.instances)

    with EmbedLoad(s.varnish.port, s.shop, threads=6) as load:
        wait_for(lambda: load.total >= 200, 15, "load through the edge")
        before_total = load.total
        before_served = served()
        stopped_at = time.monotonic()
        s.varnish.restart()
        restarted = time.monotonic() - stopped_at
        after_start = load.total
        wait_for(lambda: load.total - after_start >= 600, 30, "load after the restart")
        edge_requests = load.total - before_total
        reached = served() - before_served
    # 3 Referer classes x 2 variants of the shop: the objects the empty cache must refetch.
    objects = 6
    report(
        capsys,
        f"Varnish restarted under load in {restarted:.1f} s: {edge_requests} requests at the "
        f"edge from before the restart to 600 after it, {load.errors_5xx()} 5xx, statuses "
        f"{dict(load.statuses)}, {load.refused} refused while it was down; the instances "
        f"served {reached:.0f} requests for {objects} cache objects "
        f"(including scrapes of /metrics by this test)",
    )
    assert load.errors_5xx() == 0
    # Coalescing: the instances see about one fetch per object and scrape, not one per
    # client request.
    assert reached <= 4 * objects + 2 * len(s.instances) * 4, reached
