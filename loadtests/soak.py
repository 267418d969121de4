"""`make soak`: mixed load for SOAK_SECONDS (default 600) against a local instance with Redis.

Starts redis-server and the service (uvicorn, one process) on loopback, seeds the demo
shops and an admin token, and runs locust headless with loadtests/soak_locustfile.py:
badges with revalidation, pages, lookups and searches, badge uploads, bad badge requests,
state changes and audited edits. The server's RSS is sampled throughout; after a warm-up
(a tenth of the run, 30 to 120 s) it must grow by less than 10 %, and no request may get a
5xx or fail. Prints the figures; exits non-zero when a bound is broken.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import RedisServer, Service, cli, service_env  # noqa: E402

MAX_GROWTH = 0.10


def rss_kb(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) if found else 0


class RssSampler(threading.Thread):
    def __init__(self, pid: int, every: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.every = every
        self.samples: list[tuple[float, int]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.stopped.is_set():
            self.samples.append((time.monotonic() - started, rss_kb(self.pid)))
            self.stopped.wait(self.every)

    def at(self, second: float) -> int:
        """The first sample at or after `second` into the run."""
        return next((kb for t, kb in self.samples if t >= second), self.samples[-1][1])


@dataclass
class SoakResult:
    seconds: int
    requests: int
    failures: int
    server_errors: int
    by_name: dict[str, int]
    rss_start_kb: int
    rss_after_warmup_kb: int
    rss_end_kb: int
    locust_exit: int

    @property
    def growth(self) -> float:
        base = self.rss_after_warmup_kb
        return (self.rss_end_kb - base) / base if base else 1.0

    @property
    def ok(self) -> bool:
        return (
            self.locust_exit == 0
            and self.requests > 0
            and self.failures == 0
            and self.server_errors == 0
            and self.growth < MAX_GROWTH
        )


def run(seconds: int, users: int, report_dir: Path) -> SoakResult:
    work = Path(tempfile.mkdtemp(prefix="badge-soak-"))
    redis_server = RedisServer(work)
    redis_server.start()
    # One load generator is one client: rate limits off, as in `make loadtest`.
    env = service_env(
        work,
        BADGE_REDIS_URL=redis_server.url,
        BADGE_RATE_UPLOADS="0",
        BADGE_RATE_LOOKUPS="0",
        BADGE_RATE_ADMIN="0",
    )
    service = Service(env)
    env["BADGE_PUBLIC_URL"] = service.base
    warmup = min(120.0, max(30.0, seconds / 10))
    try:
        demo = cli(env, "demo")
        if demo.returncode != 0:
            raise RuntimeError(demo.stderr)
        # `badge demo` prints "<id>  <state>  <name> (<domain>)" a shop, then hints.
        rows = [
            line.split()
            for line in demo.stdout.splitlines()
            if re.match(r"^[a-z0-9]{16} +[a-z]+ ", line)
        ]
        token = cli(env, "tokens", "create", "soak").stdout.strip().splitlines()[-1]
        certified = [row[0] for row in rows if row[1] == "certified"]
        service.start()
        assert service.process is not None
        sampler = RssSampler(service.process.pid)
        sampler.start()
        report_dir.mkdir(parents=True, exist_ok=True)
        # The load test's shops file (loadtests/locustfile.py): ids with their domains.
        shops_file = work / "shops.json"
        shops = [{"id": row[0], "domains": [row[-1].strip("()")]} for row in rows]
        shops_file.write_text(json.dumps(shops))
        locust_env = dict(
            env,
            PYTHONPATH=str(ROOT),
            LOCUST_SHOPS=str(shops_file),
            LOCUST_ADMIN_TOKEN=token,
            LOCUST_TOGGLE_SHOP=certified[0],
            LOCUST_EDIT_SHOP=certified[-1],
        )
        command = [
            *(sys.executable, "-m", "locust"),
            *("-f", str(ROOT / "loadtests" / "soak_locustfile.py")),
            "--headless",
            *("--host", service.base),
            *("-u", str(users), "-r", str(max(1, users // 4))),
            *("-t", f"{seconds}s", "--stop-timeout", "5"),
            "--only-summary",
            *("--csv", str(report_dir / "soak")),
            *("--loglevel", "WARNING"),
        ]
        completed = subprocess.run(
            command, env=locust_env, cwd=ROOT, timeout=seconds + 120, stdout=subprocess.DEVNULL
        )
        sampler.stopped.set()
        sampler.join()
        requests = failures = 0
        by_name: dict[str, int] = {}
        with open(report_dir / "soak_stats.csv") as handle:
            for row in csv.DictReader(handle):
                if row["Name"] == "Aggregated":
                    requests = int(row["Request Count"])
                    failures = int(row["Failure Count"])
                else:
                    by_name[f"{row['Type']} {row['Name']}"] = int(row["Request Count"])
        server_errors = 0
        with open(report_dir / "soak_failures.csv") as handle:
            for row in csv.DictReader(handle):
                if re.search(r"\b5\d\d\b", row["Error"]):
                    server_errors += int(row["Occurrences"])
        first = sampler.samples[0][1]
        after_warmup = sampler.at(warmup)
        end = sampler.samples[-1][1]
        peak = max(kb for _, kb in sampler.samples)
        result = SoakResult(
            seconds=seconds,
            requests=requests,
            failures=failures,
            server_errors=server_errors,
            by_name=by_name,
            rss_start_kb=first,
            rss_after_warmup_kb=after_warmup,
            rss_end_kb=end,
            locust_exit=completed.returncode,
        )
        print(
            f"soak: {seconds} s, {users} users, {requests} requests, {failures} failures, "
            f"{server_errors} 5xx"
        )
        for name, count in sorted(by_name.items(), key=lambda item: -item[1]):
            print(f"  {count:>8}  {name}")
        print(
            f"server RSS: {first / 1024:.1f} MB at start, {after_warmup / 1024:.1f} MB after "
            f"{warmup:.0f} s warm-up, {end / 1024:.1f} MB at the end (peak {peak / 1024:.1f} MB); "
            f"growth after warm-up {result.growth * 100:+.1f} % (bound {MAX_GROWTH * 100:.0f} %)"
        )
        print(f"reports: {report_dir}/soak_*.csv")
        print("soak: OK" if result.ok else "soak: FAILED")
        return result
    finally:
        service.stop()
        redis_server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("SOAK_SECONDS") or 600))
    parser.add_argument("--users", type=int, default=int(os.environ.get("SOAK_USERS") or 20))
    parser.add_argument("--report-dir", type=Path, default=ROOT / "reports")
    options = parser.parse_args()
    sys.exit(0 if run(options.seconds, options.users, options.report_dir).ok else 1)


if __name__ == "__main__":
    main()
