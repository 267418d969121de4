"""A throwaway PostgreSQL cluster for tests: Debian's initdb and postgres on a free port."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg

from tests.servers import free_port, wait_for


def find_bindir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb and postgres."""
    found = [
        Path(d)
        for d in glob.glob("/usr/lib/postgresql/*/bin")
        if (Path(d) / "initdb").exists() and (Path(d) / "postgres").exists()
    ]
    if not found:
        raise RuntimeError("PostgreSQL is missing; `make test` installs it (apt: postgresql)")
    return max(found, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)


class PostgresCluster:
    """initdb into a temporary directory and run `postgres` on 127.0.0.1 until stop()."""

    def __init__(self) -> None:
        self.bindir = find_bindir()
        self.port = free_port()
        # Not under pytest's tmp_path: that is private to root, and postgres refuses to run
        # as root, so the cluster must live where the `postgres` user can reach it.
        self.root = Path(tempfile.mkdtemp(prefix="badge-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            # Dropping privileges in the child (not `runuser`) makes the Popen the postmaster
            # itself: runuser ignores SIGINT and turns SIGTERM into SIGKILL after 2 s.
            self._as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self) -> None:
        subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            **self._as,
        )
        self.resume()

    def resume(self) -> None:
        """Start the postmaster on the cluster made by start() (again, after halt())."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.bindir / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.root),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    # Throwaway data: skip the disk flushes that make commits slow.
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                **self._as,
            )
        wait_for(self._accepts, 20, f"postgres (log: {self.log})")

    def _accepts(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"postgres exited: {self.log.read_text(errors='replace')[-2000:]}")
        try:
            with psycopg.connect(self.url(), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def create_database(self) -> str:
        """A new, empty database; its URL."""
        name = f"t_{secrets.token_hex(6)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            # FILE_COPY copies the small template's files instead of WAL-logging every page;
            # with fsync off that measured faster here.
            conn.execute(f"CREATE DATABASE {name} STRATEGY FILE_COPY")  # type: ignore[arg-type]
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            # FORCE ends connections a failed test may have left open.
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]

    def halt(self) -> None:
        """Stop the postmaster and keep the cluster, for resume(): an outage."""
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=20)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            # SIGINT is postgres's fast shutdown: clients are disconnected, nothing waits.
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root)
