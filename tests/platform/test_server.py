"""Slow clients and overload against `badge serve` itself (uvicorn with badge/platform/server.py's
protocol): header and body read timeouts, a fast 503 past the concurrency limit, and
badges still served while 2,000 half-sent requests hold connections open. Then the answers
the protocol writes itself (warm badges, prepared pages): the bytes uvicorn writes, in
order behind a request in flight, logged, and within the concurrency limit."""

from __future__ import annotations

import http.client
import resource
import select
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from badge.registry.model import Shop
from badge.registry.sqlite import SQLiteRegistry
from tests.conftest import add_shop
from tests.servers import ROOT, free_port, get, service_env, wait_for

pytestmark = pytest.mark.server

SLOW_CONNECTIONS = 2_000
BADGE_REQUESTS = 50
# The functional bound; the median of 50 requests is a generous reading of it.
BADGE_BOUND_SECONDS = 0.050


@contextmanager
def badge_serve(tmp_path: Path, **extra: str) -> Iterator[str]:
    """`badge serve` on a free port; its log must hold no traceback when it stops."""
    port = free_port()
    env = service_env(tmp_path, BADGE_PORT=str(port), **{"BADGE_LOG_LEVEL": "warning", **extra})
    log_path = tmp_path / f"serve-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "badge", "serve"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: get(base + "/healthz")[0] == 200, 30, "badge serve")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert "Traceback" not in log_path.read_text(errors="replace"), log_path.read_text()


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def half_sent(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET /b/abcdefghijkmnpqr.svg HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    return sock


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed the connection in time, and what it said before."""
    sock.settimeout(seconds)
    received = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return True, received
            received += chunk
    except TimeoutError:
        return False, received
    except ConnectionResetError:
        return True, received


def new_shop(folder: Path) -> Shop:
    registry = SQLiteRegistry(folder / "badge.db")
    try:
        return add_shop(registry)
    finally:
        registry.close()


@pytest.fixture
def shop(tmp_path: Path) -> Shop:
    return new_shop(tmp_path)


@dataclass(frozen=True)
class Served:
    base: str
    shop: Shop

    @property
    def port(self) -> int:
        return port_of(self.base)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One `badge serve` with the default settings, for the tests that change nothing."""
    folder = tmp_path_factory.mktemp("plain")
    shop = new_shop(folder)
    with badge_serve(folder) as base:
        yield Served(base, shop)


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One `badge serve` that takes 20 connections at once (idle ones wait up to 60 s)."""
    folder = tmp_path_factory.mktemp("limited")
    shop = new_shop(folder)
    with badge_serve(folder, BADGE_LIMIT_CONCURRENCY="20", BADGE_HEADER_TIMEOUT="60") as base:
        yield Served(base, shop)


def test_header_timeout_answers_408_and_closes(tmp_path: Path, shop: Shop) -> None:
    with badge_serve(tmp_path, BADGE_HEADER_TIMEOUT="1") as base:
        port = port_of(base)
        silent = socket.create_connection(("127.0.0.1", port), timeout=5)
        partial = half_sent(port)
        started = time.monotonic()
        for sock in (silent, partial):
            closed, said = closed_within(sock, 10)
            assert closed
            assert said.startswith(b"HTTP/1.1 408 ")
            assert b"cache-control: no-store" in said
            sock.close()
        assert time.monotonic() - started < 8
        # A kept-alive connection's next request is on the clock too.
        conn = socket.create_connection(("127.0.0.1", port), timeout=5)
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        assert conn.recv(4096).startswith(b"HTTP/1.1 200 ")
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        closed, said = closed_within(conn, 10)
        assert closed and said.startswith(b"HTTP/1.1 408 ")
        conn.close()
        # Prompt clients are unaffected.
        assert get(f"{base}/b/{shop.id}.svg")[0] == 200


def test_body_timeout_closes_a_stalled_upload(tmp_path: Path) -> None:
    with badge_serve(tmp_path, BADGE_BODY_TIMEOUT="1") as base:
        sock = socket.create_connection(("127.0.0.1", port_of(base)), timeout=5)
        sock.sendall(
            b"POST /api/v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: image/svg+xml\r\n"
            b"Content-Length: 5000\r\n\r\n<svg xmlns="
        )
        started = time.monotonic()
        closed, _ = closed_within(sock, 10)
        assert closed
        assert time.monotonic() - started < 8
        sock.close()
        assert get(f"{base}/healthz")[0] == 200


def test_over_the_concurrency_limit_is_a_fast_503(limited: Served) -> None:
    base, port = limited.base, limited.port
    idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(20)]
    try:
        time.sleep(0.3)
        started = time.monotonic()
        status, body, headers = get(f"{base}/verify", timeout=5)
        elapsed = time.monotonic() - started
        assert status == 503, body
        assert body == b"overloaded; try again shortly\n", headers
        lower = {name.lower(): value for name, value in headers.items()}
        assert lower["retry-after"] == "1"
        assert lower["cache-control"] == "no-store"
        assert elapsed < 2, elapsed
    finally:
        for sock in idle:
            sock.close()
    wait_for(lambda: get(f"{base}/healthz")[0] == 200, 10, "recovery")


def raise_open_files(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


def test_badges_stay_fast_while_2000_slow_connections_are_open(tmp_path: Path, shop: Shop) -> None:
    raise_open_files(SLOW_CONNECTIONS + 512)
    with badge_serve(tmp_path, BADGE_HEADER_TIMEOUT="120") as base:
        port = port_of(base)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", f"/b/{shop.id}.svg")
        assert conn.getresponse().read()  # warm
        slow: list[socket.socket] = []
        try:
            for _ in range(SLOW_CONNECTIONS):
                slow.append(half_sent(port))
            time.sleep(1.0)
            # Every one of them is still open: the server neither answered nor closed them.
            poller = select.poll()
            for sock in slow:
                poller.register(sock, select.POLLIN | select.POLLHUP)
            assert poller.poll(0) == []
            timings = []
            for _ in range(BADGE_REQUESTS):
                started = time.perf_counter()
                conn.request("GET", f"/b/{shop.id}.svg")
                response = conn.getresponse()
                body = response.read()
                timings.append(time.perf_counter() - started)
                assert response.status == 200
                assert body.startswith(b"<svg")
            median = statistics.median(timings)
            p95 = sorted(timings)[int(len(timings) * 0.95) - 1]
            print(
                f"badge with {SLOW_CONNECTIONS} slow connections open: "
                f"median {median * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms"
            )
            assert median < BADGE_BOUND_SECONDS, timings
        finally:
            for sock in slow:
                sock.close()
            conn.close()


def exchange(port: int, request: bytes, wait: float = 2.0) -> bytes:
    """Everything the server sends back to `request` (one or several requests) until it has
    been quiet for a moment or has closed the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        sock.settimeout(wait)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
                sock.settimeout(0.3)
        except TimeoutError:
            pass
        return received


def split_responses(data: bytes) -> list[bytes]:
    """Responses in a stream, each without its Date header (the only part that changes)."""
    found = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b": ")
            if name == b"content-length" and not head.startswith(b"HTTP/1.1 304"):
                length = int(value)
        if b"\r\nhead-request: yes" in head:
            length = 0
        lines = [line for line in head.split(b"\r\n") if not line.startswith(b"date: ")]
        found.append(b"\r\n".join(lines) + b"\r\n\r\n" + rest[:length])
        data = rest[length:]
    return found


def get_request(path: str, *headers: str, method: str = "GET") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_warm_answers_are_the_bytes_the_first_answer_had(plain: Served) -> None:
    """The first requests go through ASGI (the answer is made, then kept); later ones are
    written by the protocol. Every one is the same, but for its Date."""
    shop = plain.shop
    embed = get_request(
        f"/b/{shop.id}.svg?lang=nl&size=m&d=bakkerij-test.be",
        "Referer: https://www.bakkerij-test.be/",
        "Accept-Encoding: gzip, deflate, br",
    )
    page = get_request(f"/v/{shop.id}", "Accept-Language: nl-BE")
    document = get_request(f"/api/v1/shops/{shop.id}")
    port = plain.port
    for request in (embed, page, document):
        answers = split_responses(exchange(port, request * 6))
        assert len(answers) == 6, answers
        assert answers[0].startswith(b"HTTP/1.1 200 OK\r\n"), answers[0][:200]
        assert len(set(answers)) == 1, answers
        # Every answer has one Date, where uvicorn puts it: right after the status line.
        raw = exchange(port, request)
        assert raw.split(b"\r\n")[1].startswith(b"date: "), raw[:200]
    etag = answers_etag(exchange(port, embed))
    conditional = embed.replace(b"\r\n\r\n", f"\r\nIf-None-Match: {etag}\r\n\r\n".encode())
    revalidated = split_responses(exchange(port, conditional * 4))
    assert len(set(revalidated)) == 1 and revalidated[0].startswith(b"HTTP/1.1 304 ")
    head = exchange(port, embed.replace(b"GET ", b"HEAD ", 1) * 3)
    assert head.count(b"HTTP/1.1 200 OK") == 3 and b"<svg" not in head


def answers_etag(response: bytes) -> str:
    for line in response.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.startswith(b"etag: "):
            return line[6:].decode()
    raise AssertionError(response[:300])


def test_a_pipelined_warm_badge_waits_for_the_request_before_it(plain: Served) -> None:
    warm = get_request(f"/b/{plain.shop.id}.svg")
    port = plain.port
    exchange(port, warm * 3)
    # A PNG at a scale not drawn yet goes through ASGI (and a render): the warm SVG
    # behind it on the connection is answered after it, not before.
    cold = get_request(f"/b/{plain.shop.id}.png?scale=3")
    answers = exchange(port, cold + warm + cold + warm, wait=10)
    types = [line for line in answers.split(b"\r\n") if line.startswith(b"content-type: ")]
    assert types == [b"content-type: image/png", b"content-type: image/svg+xml; charset=utf-8"] * 2


def test_connection_close_and_http_1_0_are_honoured(plain: Served) -> None:
    path = f"/b/{plain.shop.id}.svg"
    port = plain.port
    exchange(port, get_request(path) * 3)
    for request in (
        get_request(path, "Connection: close"),
        f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode(),
    ):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(request)
            closed, said = closed_within(sock, 5)
        assert closed and said.startswith(b"HTTP/1.1 200 ")
        assert b"\r\nconnection: close\r\n" in said


def test_the_access_log_names_warm_answers(tmp_path: Path, shop: Shop) -> None:
    path = f"/b/{shop.id}.svg?lang=de"
    with badge_serve(tmp_path, BADGE_ACCESS_LOG="true", BADGE_LOG_LEVEL="info") as base:
        port = port_of(base)
        exchange(port, get_request(path) * 5 + get_request(f"/v/{shop.id}") * 3)
        time.sleep(0.5)
    log = next(tmp_path.glob("serve-*.log")).read_text()
    assert log.count(f'"GET {path} HTTP/1.1" 200') == 5, log
    assert log.count(f'"GET /v/{shop.id} HTTP/1.1" 200') == 3, log


def test_warm_badges_are_within_the_concurrency_limit(limited: Served) -> None:
    base, port = limited.base, limited.port
    path = f"/b/{limited.shop.id}.svg"
    assert exchange(port, get_request(path) * 3).count(b"HTTP/1.1 200 ") == 3
    idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(20)]
    try:
        time.sleep(0.3)
        said = exchange(port, get_request(path))
        assert said.startswith(b"HTTP/1.1 503 "), said[:200]
        assert b"retry-after: 1" in said and said.endswith(b"overloaded; try again shortly\n")
    finally:
        for sock in idle:
            sock.close()
    wait_for(lambda: get(f"{base}{path}")[0] == 200, 10, "recovery")


def test_behind_a_trusted_proxy_the_access_log_names_the_client(tmp_path: Path, shop: Shop) -> None:
    path = f"/b/{shop.id}.svg"
    proxied = {"BADGE_FORWARDED_ALLOW_IPS": "127.0.0.1", "BADGE_ACCESS_LOG": "true"}
    with badge_serve(tmp_path, BADGE_LOG_LEVEL="info", **proxied) as base:
        exchange(port_of(base), get_request(path, "X-Forwarded-For: 203.0.113.7") * 4)
        time.sleep(0.5)
    log = next(tmp_path.glob("serve-*.log")).read_text()
    named = [line for line in log.splitlines() if f'"GET {path} HTTP/1.1" 200' in line]
    assert len(named) == 4 and all("203.0.113.7" in line for line in named), log
