"""Rate limits: per client, shared through a real Redis when configured, in process otherwise;
429 with Retry-After, counted in /metrics; the badge itself is never limited."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from redis.asyncio import Redis
from starlette.testclient import TestClient

from badge.app import create_app
from badge.platform import ratelimit
from badge.platform.ratelimit import RateLimiter, client_key
from badge.registry.model import Shop
from badge.registry.sqlite import SQLiteRegistry
from badge.settings import Secret, Settings
from tests.servers import RedisServer, Service, get, service_env

TOKEN = "bkt_ratelimit-token-0123456789abcdefghijklmnopq"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limited_settings(base: Settings, **limits: int) -> Settings:
    # Hour-long windows, so a test's few requests never straddle a window's end.
    values = {
        "rate_window": 3600,
        "rate_uploads": 2,
        "rate_lookups": 3,
        "rate_admin": 2,
        "rate_reports": 1,
    }
    values.update(limits)
    return dataclasses.replace(base, **values)  # type: ignore[arg-type]


def test_fixed_window_in_process(settings: Settings) -> None:
    clock = Clock(1_000_040.0)  # 20 s into a 60 s window (they start at multiples of 60)
    limiter = RateLimiter(limited_settings(settings, rate_window=60), clock=clock)

    async def main() -> None:
        assert await limiter.check("lookups", "1.2.3.4") is None
        assert await limiter.check("lookups", "1.2.3.4") is None
        assert await limiter.check("lookups", "1.2.3.4") is None
        assert await limiter.check("lookups", "1.2.3.4") == 40.0
        assert await limiter.check("lookups", "5.6.7.8") is None  # per client
        assert await limiter.check("uploads", "1.2.3.4") is None  # per bucket
        assert await limiter.check("report", "1.2.3.4") is None
        assert await limiter.check("report", "1.2.3.4") == 40.0
        clock.now += 40  # the next window
        assert await limiter.check("lookups", "1.2.3.4") is None

    anyio.run(main)
    assert limiter.limited == {"lookups": 1, "report": 1}


def test_zero_turns_a_limit_off(settings: Settings) -> None:
    limiter = RateLimiter(limited_settings(settings, rate_uploads=0))

    async def main() -> None:
        for _ in range(100):
            assert await limiter.check("uploads", "1.2.3.4") is None

    anyio.run(main)


def test_in_process_table_is_bounded(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ratelimit, "MAX_TRACKED", 50)
    limiter = RateLimiter(limited_settings(settings))

    async def main() -> None:
        for n in range(10_000):
            await limiter.check("lookups", f"10.0.{n // 256}.{n % 256}")

    anyio.run(main)
    assert len(limiter._local) == 50


@pytest.mark.parametrize(
    ("client", "key"),
    [
        pytest.param(("192.0.2.7", 5000), "192.0.2.7", id="ipv4"),
        pytest.param(("2001:db8:1:2:3:4:5:6", 5000), "2001:db8:1:2::/64", id="ipv6-64"),
        pytest.param(None, "", id="unix-socket"),
    ],
)
def test_client_key(client: tuple[str, int] | None, key: str) -> None:
    assert client_key({"type": "http", "client": client}) == key


@pytest.fixture
def limited(settings: Settings, registry: SQLiteRegistry) -> Iterator[TestClient]:
    registry.add_token("crm", hashlib.sha256(TOKEN.encode()).hexdigest())
    with TestClient(create_app(limited_settings(settings))) as client:
        yield client


def assert_429(response: object, bucket: str) -> None:
    assert response.status_code == 429  # type: ignore[attr-defined]
    headers = response.headers  # type: ignore[attr-defined]
    assert 1 <= int(headers["retry-after"]) <= 3600
    assert headers["cache-control"] == "no-store"
    assert headers["x-rate-limit-bucket"] == bucket


def test_uploads_are_limited_with_a_verdict_shaped_429(limited: TestClient) -> None:
    for _ in range(2):
        assert limited.post("/api/v1/verify", json={"token": "a.b.c"}).status_code == 422
    response = limited.post("/api/v1/verify", json={"token": "a.b.c"})
    assert_429(response, "uploads")
    data = response.json()
    assert data["genuine"] is False and data["certified_now"] is False
    assert data["error"] == "rate_limited"
    assert "try again" in data["reason"]
    form = limited.post("/verify", data={"token": "a.b.c"})
    assert_429(form, "uploads")


def test_lookups_are_limited_but_the_plain_page_is_not(limited: TestClient) -> None:
    for n in range(3):
        assert limited.get(f"/verify?q=shop{n}").status_code == 200
    assert_429(limited.get("/verify?q=again"), "lookups")
    assert_429(limited.get("/api/v1/lookup?domain=shop.be"), "lookups")
    assert limited.get("/verify").status_code == 200


def test_admin_api_is_limited(limited: TestClient) -> None:
    headers = {"authorization": f"Bearer {TOKEN}"}
    assert limited.get("/admin/api/v1/shops", headers=headers).status_code == 200
    assert limited.get("/admin/api/v1/shops").status_code == 401  # counted before auth
    response = limited.get("/admin/api/v1/shops", headers=headers)
    assert_429(response, "admin")
    assert response.json()["error"] == "rate_limited"


def test_badges_are_never_limited_and_limits_are_in_metrics(
    limited: TestClient, shop: Shop
) -> None:
    for _ in range(3):
        limited.get("/api/v1/lookup?domain=x.be")
    assert limited.get("/api/v1/lookup?domain=x.be").status_code == 429
    for _ in range(200):
        assert limited.get(f"/b/{shop.id}.svg").status_code == 200
        assert limited.get(f"/v/{shop.id}").status_code == 200
    metrics = limited.get("/metrics").text
    assert re.search(r'^badge_rate_limited_total\{bucket="lookups"\} 1\.0$', metrics, re.M)
    assert re.search(r'^badge_rate_limited_total\{bucket="uploads"\} 0\.0$', metrics, re.M)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.mark.redis
def test_counts_are_shared_through_redis(settings: Settings, redis_server: RedisServer) -> None:
    shared = dataclasses.replace(limited_settings(settings), redis_url=Secret(redis_server.url))

    async def main() -> None:
        clients = [Redis.from_url(redis_server.url), Redis.from_url(redis_server.url)]
        one, two = (RateLimiter(shared, client) for client in clients)
        assert await one.check("lookups", "9.9.9.9") is None
        assert await two.check("lookups", "9.9.9.9") is None
        assert await one.check("lookups", "9.9.9.9") is None
        assert await two.check("lookups", "9.9.9.9") is not None
        keys = await clients[0].keys("badge:rl:lookups:*")
        assert len(keys) == 1
        assert 0 < await clients[0].ttl(keys[0]) <= 3601
        for client in clients:
            await client.aclose()

    anyio.run(main)


@pytest.mark.redis
def test_redis_down_falls_back_to_counting_in_process(
    settings: Settings, redis_server: RedisServer
) -> None:
    async def main() -> None:
        client = Redis.from_url(redis_server.url, socket_timeout=0.2, socket_connect_timeout=0.2)
        limiter = RateLimiter(limited_settings(settings), client)
        assert await limiter.check("uploads", "8.8.8.8") is None
        redis_server.stop()
        assert await limiter.check("uploads", "8.8.8.8") is None
        assert await limiter.check("uploads", "8.8.8.8") is None
        assert await limiter.check("uploads", "8.8.8.8") is not None
        assert limiter.redis_errors >= 1
        await client.aclose()

    anyio.run(main)


@pytest.mark.server
@pytest.mark.redis
def test_two_real_instances_share_one_limit(tmp_path: Path, redis_server: RedisServer) -> None:
    env = service_env(
        tmp_path,
        BADGE_REDIS_URL=redis_server.url,
        BADGE_RATE_LOOKUPS="3",
        BADGE_RATE_WINDOW="3600",
    )
    services = [Service(env), Service(env)]
    for service in services:
        service.start()
    try:
        statuses = [
            get(f"{services[n % 2].base}/api/v1/lookup?domain=shop{n}.be")[0] for n in range(4)
        ]
        assert statuses == [404, 404, 404, 429]
        metrics = get(f"{services[1].base}/metrics")[1].decode()
        assert 'badge_rate_limited_total{bucket="lookups"} 1.0' in metrics
        assert get(f"{services[1].base}/b/abcdefghijkmnpqr.svg")[0] == 404
    finally:
        for service in services:
            service.stop()
