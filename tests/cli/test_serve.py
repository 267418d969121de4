"""`badge serve` with the command line's --host, --port and --workers: a real server, and the
app behind it built for the address it listens on, not for BADGE_PORT's default."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from badge.registry.model import Shop
from badge.registry.sqlite import SQLiteRegistry
from tests.conftest import add_shop
from tests.servers import ROOT, end, free_port, get, service_env, token_claims, wait_for

pytestmark = pytest.mark.server


@pytest.fixture
def shop(tmp_path: Path) -> Shop:
    registry = SQLiteRegistry(tmp_path / "badge.db")
    try:
        return add_shop(registry)
    finally:
        registry.close()


def env_without_address(tmp_path: Path) -> dict[str, str]:
    """No BADGE_HOST, BADGE_PORT, BADGE_WORKERS or BADGE_PUBLIC_URL: the CLI decides."""
    env = service_env(tmp_path, BADGE_LOG_LEVEL="warning")
    del env["BADGE_PUBLIC_URL"]
    return env


@contextmanager
def badge_serve(tmp_path: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "badge", "serve", *args],
        env=env_without_address(tmp_path),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        end(process)


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_port_from_the_command_line_reaches_the_app(tmp_path: Path, shop: Shop) -> None:
    port = free_port()
    with badge_serve(tmp_path, "--port", str(port)):
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: get(f"{base}/healthz")[0] == 200, 30, "badge serve --port")
        # The issuer is where we listen, not the default port 8000.
        status, body, _ = get(f"{base}/b/{shop.id}.svg")
        assert status == 200
        claims = token_claims(body)
        assert claims is not None and claims["iss"] == base
        # Our own pages on this port are our own netloc: their previews are certified.
        _, body, _ = get(f"{base}/b/{shop.id}.svg", headers={"Referer": f"{base}/embed/{shop.id}"})
        own = token_claims(body)
        assert own is not None and own["variant"] == "certified", own
        assert own["site"] == "127.0.0.1"
        # And a page on port 8000 is somebody else's.
        _, body, _ = get(
            f"{base}/b/{shop.id}.svg", headers={"Referer": f"http://127.0.0.1:8000/x/{shop.id}"}
        )
        other = token_claims(body)
        assert other is not None and other["variant"] == "mismatch", other


def test_host_and_workers_from_the_command_line(tmp_path: Path, shop: Shop) -> None:
    port = free_port()
    with badge_serve(tmp_path, "--host", "127.0.0.1", "--port", str(port), "--workers", "2") as p:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: get(f"{base}/healthz")[0] == 200, 60, "badge serve --workers 2")
        wait_for(lambda: len(children_of(p.pid)) >= 2, 30, "two worker processes")
        claims = token_claims(get(f"{base}/b/{shop.id}.svg")[1])
        assert claims is not None and claims["iss"] == base


@pytest.mark.parametrize(
    ("args", "said"),
    [
        pytest.param(("--port", "70000"), "--port (BADGE_PORT)", id="port-too-high"),
        pytest.param(("--workers", "0"), "--workers (BADGE_WORKERS)", id="no-workers"),
    ],
)
def test_a_bad_choice_is_one_line_naming_the_option(
    tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "badge", "serve", *args],
        env=env_without_address(tmp_path),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and said in errors[0], result.stderr
