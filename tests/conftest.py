"""Shared fixtures: settings on temporary paths, an in-process client, seeded shops."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from badge.app import create_app
from badge.platform.timeutil import today
from badge.registry import rules
from badge.registry.model import Shop
from badge.registry.sqlite import SQLiteRegistry
from badge.settings import Secret, Settings
from tests.pg import PostgresCluster
from tests.servers import wait_for

# The modules that each keep a worker busy for most of a minute or more: they wait out
# outages, build the image, drive Chromium or a whole deployment. `make test` hands whole
# modules to its workers in collection order (`--dist loadfile --no-loadscope-reorder`), so
# these go first, longest first: started last, one of them would run on while the other
# worker has nothing left to do.
LONG_MODULES = (
    "tests/test_faults.py",
    "tests/test_schemathesis.py",
    "tests/test_deploy.py",
    "tests/test_loadtest.py",
    "tests/platform/test_server.py",
    "tests/platform/test_metrics.py",
    "tests/test_image.py",
    "tests/test_borrowed_badge_browser.py",
    "tests/platform/test_bus.py",
    "tests/verify/test_screenshots.py",
    "tests/test_soak.py",
    "tests/test_edge_browser.py",
    "tests/test_prometheus.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    moved = [module for module in LONG_MODULES if not (config.rootpath / module).is_file()]
    if moved:
        raise pytest.UsageError(f"LONG_MODULES names modules that are gone: {moved}")
    rank = {module: place for place, module in enumerate(LONG_MODULES)}
    # A stable sort: every other module keeps its place in collection order.
    items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], len(rank)))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=Secret(f"sqlite:///{tmp_path / 'badge.db'}"),
        keys_dir=tmp_path / "keys",
        public_url="http://testserver",
        poll_interval=0.05,
        # In-process apps draw in threads: a render worker process per test would cost more
        # than the test. The worker is tested on its own and runs in every served app.
        render_processes=0,
    )


@pytest.fixture
def registry(settings: Settings) -> Iterator[SQLiteRegistry]:
    path = settings.sqlite_path
    assert path is not None
    reg = SQLiteRegistry(path)
    yield reg
    reg.close()


def add_shop(
    registry: SQLiteRegistry,
    *,
    name: str = "Bakkerij Test",
    domains: tuple[str, ...] = ("bakkerij-test.be",),
    categories: tuple[str, ...] = ("b2c_member",),
    state: str = "certified",
    valid_days: int = 365,
    enterprise_number: str = "0123.456.749",
    attest: bool = True,
) -> Shop:
    new = rules.validate_new_shop(
        display_name=name,
        legal_name=name + " BV",
        enterprise_number=enterprise_number,
        domains=domains,
        categories=categories,
        state=state,
        certified_since=(today() - timedelta(days=400)).isoformat(),
        valid_until=(today() + timedelta(days=valid_days)).isoformat(),
        last_audit=(today() - timedelta(days=30)).isoformat(),
        today=today(),
    )
    created = registry.create_shop(new, actor="test")
    if attest:
        # Most tests are about badges, not proofs: the operator vouches for the test domains.
        for domain in created.domains:
            registry.attest_domain(created.id, domain, actor="test", reason="test shop")
        created = registry.get_shop(created.id) or created
    return created


@pytest.fixture
def shop(registry: SQLiteRegistry) -> Shop:
    return add_shop(registry, categories=("b2c_member", "sponsor"))


def feed_polled_twice(client: TestClient) -> None:
    """Two change-feed polls of the client's app completed from now: the second began after
    the first ended, so it read every change made before this call. An app that started
    before its shop was added may otherwise drop the entry a first request loads."""
    service = client.app_state["badges"]  # type: ignore[attr-defined]

    def polled_since(since: float) -> bool:
        return bool(service.stats().entries.feed_age < time.monotonic() - since)

    for _ in range(2):
        wait_for(partial(polled_since, time.monotonic()), 5, "a change-feed poll")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL for the session, started only when a test asks for it."""
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PostgresCluster) -> Iterator[str]:
    """The URL of a fresh, empty database of its own."""
    url = pg_cluster.create_database()
    yield url
    pg_cluster.drop_database(url)
