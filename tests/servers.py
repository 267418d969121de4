"""Real processes for tests: redis-server and the service under uvicorn, on free ports."""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Final

from badge.verify.check import extract_token

ROOT = Path(__file__).resolve().parent.parent


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


# Listening ports come from below the kernel's ephemeral range. A port the kernel hands out
# (bind to 0) can be taken between the pick and the server's own bind by any outgoing
# connection, and a load test on the other xdist worker opens thousands; below the range
# only another listener can take it, and the pick is random, so two picks rarely meet.
_PORTS: Final = range(max(1024, _ephemeral_low() - 12_000), _ephemeral_low())
_pick = random.SystemRandom().choice


def free_port() -> int:
    """A loopback TCP port nothing listens on, checked by binding it."""
    for _ in range(200):
        port = _pick(_PORTS)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_PORTS}")


def end(process: subprocess.Popen[bytes]) -> None:
    """Stop a process we started: politely, then for sure after ten seconds."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} not ready after {timeout} s")


class RedisServer:
    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing; `make test` installs it (apt)")
        self.binary = binary
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.started = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start, or start again on the same port (a restart keeps the URL instances use).
        A first start whose port was taken meanwhile moves to another port."""
        for _ in range(3):
            self._spawn()
            wait_for(lambda: self._pong() or self._exited(), 10, "redis-server")
            if not self._exited():
                self.started = True
                return
            if self.started:
                break
            self.port = free_port()
        log = (self.workdir / "redis.log").read_text(errors="replace")[-500:]
        raise RuntimeError(f"redis-server on port {self.port} exited: {log}")

    def _exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def _spawn(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--logfile",
                str(self.workdir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


class Service:
    """`badge` served by uvicorn in its own process, as in production."""

    def __init__(
        self,
        env: dict[str, str],
        port: int | None = None,
        *,
        factory: str = "badge.app:app_from_env",
        prefix: tuple[str, ...] = (),
        flags: tuple[str, ...] = (),
    ) -> None:
        self.port = port or free_port()
        self.env = env
        # `prefix` wraps the command (the benchmark pins it to a core with taskset).
        self.factory = factory
        self.prefix = prefix
        self.flags = flags
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *self.prefix,
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                self.factory,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
                "--log-level",
                "warning",
                *self.flags,
            ],
            env=self.env,
            cwd=ROOT,
        )
        wait_for(lambda: get(self.base + "/healthz")[0] == 200, 20, "badge service")

    def stop(self) -> None:
        if self.process is not None:
            end(self.process)
            self.process = None


def get(
    url: str, headers: dict[str, str] | None = None, timeout: float = 5
) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)
    except OSError:
        return 0, b"", {}


def token_claims(body: bytes) -> dict[str, object] | None:
    """The claims baked into a served badge, or None when it carries no token."""
    try:
        token = extract_token(body)
    except Exception:
        return None
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def service_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BADGE_")}
    env.update(
        BADGE_DATABASE_URL=f"sqlite:///{tmp / 'badge.db'}",
        BADGE_KEYS_DIR=str(tmp / "keys"),
        BADGE_PUBLIC_URL="http://badge.test",
    )
    env.update(extra)
    return env


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "badge", *args], env=env, capture_output=True, text=True, cwd=ROOT
    )
