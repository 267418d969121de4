"""Edge purges: surrogate keys on responses, and PURGE requests on every state change.

The edge here is a real HTTP server on loopback that records what it receives and answers
as told, so retries and failures can be checked; tests/test_deploy.py purges real Varnish.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from starlette.testclient import TestClient

from badge.app import create_app
from badge.platform.purge import ALL_KEY, EdgePurger, purge_now, surrogate_headers
from badge.registry.model import Shop
from badge.registry.sqlite import SQLiteRegistry
from badge.serving.query import BadgeQuery
from badge.serving.service import BadgeService, Rendered
from badge.settings import Settings
from badge.signing import KeyStore
from tests.servers import cli, free_port, service_env, token_claims


@dataclasses.dataclass
class Received:
    method: str
    path: str
    keys: str
    authorization: str | None


class RecordingEdge:
    """An HTTP server that records PURGE requests and answers with `status`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.status = 200
        self.received: list[Received] = []
        edge = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PURGE(self) -> None:
                edge.received.append(
                    Received(
                        self.command,
                        self.path,
                        self.headers.get("xkey-purge", ""),
                        self.headers.get("authorization"),
                    )
                )
                self.send_response(edge.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def purged(self) -> list[str]:
        return [key for r in self.received for key in r.keys.split()]


@pytest.fixture
def edge() -> Iterator[RecordingEdge]:
    server = RecordingEdge()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def wait(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_surrogate_headers_name_the_shop_and_everything() -> None:
    headers = dict(surrogate_headers("abcdefgh23456789"))
    assert headers[b"xkey"] == b"shop-abcdefgh23456789 keurmerk"
    assert headers[b"surrogate-key"] == b"shop-abcdefgh23456789 keurmerk"
    assert headers[b"cache-tag"] == b"shop-abcdefgh23456789,keurmerk"
    assert dict(surrogate_headers(None))[b"xkey"] == ALL_KEY.encode()


def test_badges_pages_and_json_carry_the_shops_surrogate_key(
    client: TestClient, shop: Shop
) -> None:
    expected = f"shop-{shop.id} keurmerk"
    for path in (
        f"/b/{shop.id}.svg",
        f"/b/{shop.id}.png",
        f"/v/{shop.id}",
        f"/embed/{shop.id}",
        f"/api/v1/shops/{shop.id}",
        "/api/v1/lookup?domain=bakkerij-test.be",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["xkey"] == expected, path
        assert response.headers["surrogate-key"] == expected, path
        assert response.headers["cache-tag"] == f"shop-{shop.id},keurmerk", path
    etag = client.get(f"/b/{shop.id}.svg").headers["etag"]
    revalidated = client.get(f"/b/{shop.id}.svg", headers={"if-none-match": etag})
    assert revalidated.status_code == 304
    assert revalidated.headers["xkey"] == expected


async def _run_purger(purger: EdgePurger, until: object, timeout: float = 10.0) -> None:
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(purger.run)
        with anyio.fail_after(timeout):
            while not until():  # type: ignore[operator]
                await anyio.sleep(0.01)
        tasks.cancel_scope.cancel()


def test_purges_are_queued_coalesced_and_sent(edge: RecordingEdge) -> None:
    purger = EdgePurger([edge.url])

    async def main() -> None:
        for _ in range(5):
            purger.purge("aaaaaaaaaaaaaaaa")
        purger.purge("bbbbbbbbbbbbbbbb")
        await _run_purger(purger, lambda: purger.edges[0].counts["ok"] >= 1)

    anyio.run(main)
    assert edge.received[0].method == "PURGE"
    assert sorted(edge.purged()) == ["shop-aaaaaaaaaaaaaaaa", "shop-bbbbbbbbbbbbbbbb"]
    assert purger.pending() == 0


def test_a_failing_edge_gets_a_bounded_number_of_attempts(
    edge: RecordingEdge, caplog: pytest.LogCaptureFixture
) -> None:
    edge.status = 503
    purger = EdgePurger([edge.url], attempts=3, first_backoff=0.01)

    async def main() -> None:
        purger.purge("aaaaaaaaaaaaaaaa")
        await _run_purger(purger, lambda: purger.edges[0].counts["failed"] >= 1)

    with caplog.at_level(logging.ERROR, logger="badge.purge"):
        anyio.run(main)
    assert len(edge.received) == 3
    assert purger.edges[0].counts == {"retried": 2, "failed": 1}
    assert "after 3 attempts (HTTP 503)" in caplog.text


def test_an_unreachable_edge_never_blocks_the_caller() -> None:
    purger = EdgePurger([f"http://127.0.0.1:{free_port()}/"], attempts=2, first_backoff=0.01)
    started = time.monotonic()
    purger.purge("aaaaaaaaaaaaaaaa")  # returns at once: the work is the background worker's
    assert time.monotonic() - started < 0.1

    async def main() -> None:
        await _run_purger(purger, lambda: purger.edges[0].counts["failed"] >= 1)

    anyio.run(main)
    assert purger.edges[0].counts["failed"] == 1


def test_purge_credentials_never_show(edge: RecordingEdge) -> None:
    url = f"http://ops:hunter2@127.0.0.1:{edge.port}/"
    purger = EdgePurger([url])
    assert "hunter2" not in purger.edges[0].shown
    assert purge_now([url], ["aaaaaaaaaaaaaaaa"]) == []
    assert edge.received[0].authorization == "Basic b3BzOmh1bnRlcjI="
    dead = f"http://ops:hunter2@127.0.0.1:{free_port()}/"
    assert purge_now([dead], ["aaaaaaaaaaaaaaaa"]) == [dead.replace("hunter2", "***")]


def test_a_change_through_the_admin_api_purges_the_edge(
    settings: Settings, registry: SQLiteRegistry, shop: Shop, edge: RecordingEdge
) -> None:
    token = "bkt_purge-test-token-0123456789abcdefghijklmn"
    registry.add_token("crm", hashlib.sha256(token.encode()).hexdigest())
    app = create_app(dataclasses.replace(settings, purge_urls=(edge.url,)))
    with TestClient(app) as client:
        response = client.post(
            f"/admin/api/v1/shops/{shop.id}/state",
            json={"state": "suspended", "reason": "audit"},
            headers={"authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200
        wait(lambda: f"shop-{shop.id}" in edge.purged())
        metrics = client.get("/metrics").text
        assert f'badge_edge_purges_total{{edge="{edge.url}",result="ok"}}' in metrics


def test_a_change_made_by_the_cli_in_another_process_is_purged_by_the_instance(
    settings: Settings, shop: Shop, edge: RecordingEdge
) -> None:
    """No Redis, no purge URL given to the CLI: the instance sees the change in the registry
    feed and purges it."""
    app = create_app(dataclasses.replace(settings, purge_urls=(edge.url,)))
    with TestClient(app):
        env = service_env(Path(str(settings.sqlite_path)).parent)
        result = cli(env, "shops", "set-state", shop.id, "revoked", "--reason", "fraud")
        assert result.returncode == 0, result.stderr
        wait(lambda: f"shop-{shop.id}" in edge.purged())


def test_the_cli_purges_too_and_warns_when_it_cannot(tmp_path: Path, shop: Shop) -> None:
    recording = RecordingEdge()
    recording.thread.start()
    try:
        env = service_env(tmp_path, BADGE_PURGE_URLS=recording.url)
        result = cli(env, "shops", "set-state", shop.id, "suspended", "--reason", "audit")
        assert result.returncode == 0, result.stderr
        assert recording.purged() == [f"shop-{shop.id}"]
    finally:
        recording.server.shutdown()
        recording.server.server_close()
    env = service_env(tmp_path, BADGE_PURGE_URLS=f"http://127.0.0.1:{free_port()}/")
    result = cli(env, "shops", "set-state", shop.id, "certified", "--reason", "re-audit")
    assert result.returncode == 0
    assert "could not be purged" in result.stderr


class PausingRegistry(SQLiteRegistry):
    """Real SQLite; the first get_shop holds its (old) answer until the test releases it."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.read = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def get_shop(self, shop_id: str) -> Shop | None:
        shop = super().get_shop(shop_id)
        self.calls += 1
        if self.calls == 1:
            self.read.set()
            self.release.wait(10)
        return shop


def test_a_load_in_flight_when_the_shop_changes_is_never_served_again(
    settings: Settings, registry: SQLiteRegistry, shop: Shop
) -> None:
    """The purge makes the edge refetch at once; that refetch must not join, or find cached,
    a registry read that started before the change."""
    assert settings.sqlite_path is not None
    slow = PausingRegistry(settings.sqlite_path)
    keys = KeyStore(settings.keys_dir, token_ttl=settings.token_ttl)
    keys.ensure()
    purged: list[str] = []
    service = BadgeService(settings, slow, keys, purge=purged.append)

    async def state(rendered: Rendered) -> object:
        claims = token_claims(rendered.body)
        return None if claims is None else claims["state"]

    async def main() -> tuple[object, object, object]:
        async with anyio.create_task_group() as tasks:
            first: list[Rendered] = []

            async def old_request() -> None:
                first.append(
                    await service.get(shop.id, "svg", BadgeQuery("en"), "bakkerij-test.be")
                )

            tasks.start_soon(old_request)
            await anyio.to_thread.run_sync(slow.read.wait, 10)
            registry.set_state(shop.id, "revoked", reason="fraud", actor="test")
            service.invalidate(shop.id)
            refetch = await service.get(shop.id, "svg", BadgeQuery("en"), "bakkerij-test.be")
            slow.release.set()
        cached = service.entries.lookup(
            shop.id, "svg", BadgeQuery("en"), "bakkerij-test.be", time.monotonic()
        )
        assert isinstance(cached, Rendered)
        return await state(first[0]), await state(refetch), await state(cached)

    try:
        old, refetched, cached = anyio.run(main)
    finally:
        slow.release.set()
        slow.close()
    assert purged == [shop.id]
    assert old == "certified"  # answered from the read that began before the change
    assert (refetched, cached) == ("revoked", "revoked")
