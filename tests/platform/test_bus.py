"""Several real instances on one real redis-server: agreement, outage and recovery."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import RedisServer, Service, cli, get, service_env, token_claims, wait_for

pytestmark = [pytest.mark.server, pytest.mark.redis]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def add_certified_shop(env: dict[str, str]) -> str:
    result = cli(
        env,
        "shops",
        "add",
        "--name",
        "Redis Test Shop",
        "--legal-name",
        "Redis Test BV",
        "--enterprise-number",
        "0123.456.749",
        "--domain",
        "redis-test.be",
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def badge_state(service: Service, shop_id: str) -> str | None:
    status, body, _ = get(f"{service.base}/b/{shop_id}.svg", timeout=2)
    claims = token_claims(body) if status == 200 else None
    return None if claims is None else str(claims["state"])


def test_revocation_reaches_the_other_instance_within_a_second(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    # The registry poll is slowed to 5 s, so only the Redis bus can deliver the change in time.
    env = service_env(tmp_path, BADGE_REDIS_URL=redis_server.url, BADGE_POLL_INTERVAL="5")
    shop_id = add_certified_shop(env)
    first, second = Service(env), Service(env)
    first.start()
    second.start()
    try:
        assert badge_state(first, shop_id) == "certified"
        assert badge_state(second, shop_id) == "certified"
        # Both instances serve the same signed bytes, so ETags agree behind a load balancer.
        etags = {get(f"{s.base}/b/{shop_id}.svg")[2]["etag"] for s in (first, second)}
        assert len(etags) == 1

        result = cli(env, "shops", "set-state", shop_id, "revoked", "--reason", "test")
        assert result.returncode == 0, result.stderr
        changed_at = time.monotonic()
        while badge_state(second, shop_id) != "revoked":
            assert time.monotonic() - changed_at < 1.0, "second instance still serves certified"
            time.sleep(0.02)
        delay = time.monotonic() - changed_at
        print(f"\nrevocation visible on the other instance after {delay * 1000:.0f} ms")
        assert badge_state(first, shop_id) == "revoked"
    finally:
        first.stop()
        second.stop()


def test_redis_outage_serves_on_and_recovers(tmp_path: Path, redis_server: RedisServer) -> None:
    stale_limit = 2.0
    env = service_env(
        tmp_path,
        BADGE_REDIS_URL=redis_server.url,
        BADGE_POLL_INTERVAL="5",
        BADGE_STALE_LIMIT=str(stale_limit),
        BADGE_REDIS_TIMEOUT="0.2",
    )
    shop_id = add_certified_shop(env)
    other_id = add_certified_shop_named(env, "Second Shop", "second-shop.be")
    service = Service(env)
    service.start()
    results: list[tuple[float, int, float, str | None]] = []
    stop = threading.Event()

    def traffic() -> None:
        deadline = time.monotonic() + 30  # bounded even if the test body fails
        while not stop.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            status, body, _ = get(f"{service.base}/b/{shop_id}.svg", timeout=3)
            elapsed = time.monotonic() - started
            claims = token_claims(body) if status == 200 else None
            results.append(
                (started, status, elapsed, None if claims is None else str(claims["state"]))
            )
            time.sleep(0.01)

    worker = threading.Thread(target=traffic)
    try:
        assert badge_state(service, shop_id) == "certified"
        worker.start()
        wait_for(lambda: len(results) >= 10, 10, "badge traffic before the outage")
        redis_server.stop()
        stopped_at = time.monotonic()
        wait_for(lambda: sum(r[0] > stopped_at for r in results) >= 10, 10, "traffic in outage")
        revoke = cli(env, "shops", "set-state", shop_id, "revoked", "--reason", "outage test")
        assert revoke.returncode == 0
        assert "Redis could not be told" in revoke.stderr
        revoked_at = time.monotonic()
        # Until the cached states are older than the stale limit, with traffic all along:
        # the assertions below judge what the badges said meanwhile.
        wait_for(lambda: feed_age(service) > stale_limit + 0.5, stale_limit + 5.0, "staleness")
        assert "badge_redis_bus_subscribed 0.0" in metrics(service)
        redis_server.start()
        wait_for(lambda: bus_status(service) == "subscribed", 5, "resubscription")
        stop.set()
        worker.join()

        assert results, "no requests were made"
        assert all(status < 500 for _, status, _, _ in results), "5xx during the outage"
        slowest = max(elapsed for _, _, elapsed, _ in results)
        print(f"\n{len(results)} requests during the outage; slowest {slowest * 1000:.0f} ms")
        assert slowest < 1.0
        late_certified = [
            started
            for started, _, _, state in results
            if state == "certified" and started > revoked_at + stale_limit
        ]
        assert not late_certified, "certified served beyond the stale bound after revocation"

        # Recovery: with Redis back, a change reaches the instance through the bus again.
        assert badge_state(service, other_id) == "certified"
        suspend = cli(env, "shops", "set-state", other_id, "suspended", "--reason", "recovered")
        assert suspend.returncode == 0, suspend.stderr
        assert "Redis could not be told" not in suspend.stderr
        changed_at = time.monotonic()
        while badge_state(service, other_id) != "suspended":
            assert time.monotonic() - changed_at < 1.0, "bus did not recover"
            time.sleep(0.02)
        assert "badge_redis_bus_subscribed 1.0" in metrics(service)
    finally:
        stop.set()
        if worker.is_alive():
            worker.join()
        service.stop()


def metrics(service: Service) -> str:
    return get(f"{service.base}/metrics")[1].decode()


def feed_age(service: Service) -> float:
    """Seconds since the change feed last confirmed the cached states (from /metrics)."""
    for line in metrics(service).splitlines():
        if line.startswith("badge_change_feed_age_seconds "):
            return float(line.split()[1])
    raise AssertionError("badge_change_feed_age_seconds is not in /metrics")


def bus_status(service: Service) -> str:
    _, body, _ = get(f"{service.base}/readyz")
    return str(json.loads(body)["checks"]["redis_bus"]) if body else "unreachable"


def add_certified_shop_named(env: dict[str, str], name: str, domain: str) -> str:
    result = cli(
        env,
        "shops",
        "add",
        "--name",
        name,
        "--legal-name",
        name + " BV",
        "--enterprise-number",
        "0123.456.749",
        "--domain",
        domain,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]
