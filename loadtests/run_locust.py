"""`make loadtest`: locust, headless, against a locally started service with Redis.

Starts redis-server and the service on free loopback ports, seeds demo shops and an
admin token, runs locust for a bounded time and writes reports/loadtest.html and CSVs.
Exits non-zero when any request failed.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import RedisServer, Service, cli, service_env  # noqa: E402


def run(users: int, seconds: int, report_dir: Path) -> int:
    work = Path(tempfile.mkdtemp(prefix="badge-loadtest-"))
    redis_server = RedisServer(work)
    redis_server.start()
    # One load generator is one client: per-client rate limits would throttle it, not the
    # service, so they are off here (tests/platform/test_ratelimit.py covers them).
    env = service_env(
        work,
        BADGE_REDIS_URL=redis_server.url,
        BADGE_RATE_UPLOADS="0",
        BADGE_RATE_LOOKUPS="0",
        BADGE_RATE_ADMIN="0",
    )
    service = Service(env)
    env["BADGE_PUBLIC_URL"] = service.base
    try:
        demo = cli(env, "demo")
        if demo.returncode != 0:
            raise RuntimeError(demo.stderr)
        rows = [line.split() for line in demo.stdout.splitlines() if line.strip()]
        ids = [row[0] for row in rows]
        domains = [row[-1].strip("()") for row in rows]
        token = cli(env, "tokens", "create", "loadtest").stdout.strip().splitlines()[-1]
        certified = next(row[0] for row in rows if row[1] == "certified")
        service.start()
        report_dir.mkdir(parents=True, exist_ok=True)
        locust_env = dict(
            env,
            LOCUST_SHOP_IDS=",".join(ids),
            LOCUST_DOMAINS=",".join(domains),
            LOCUST_ADMIN_TOKEN=token,
            LOCUST_TOGGLE_SHOP=certified,
        )
        command = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(ROOT / "loadtests" / "locustfile.py"),
            "--headless",
            "--host",
            service.base,
            "-u",
            str(users),
            "-r",
            str(max(1, users // 2)),
            "-t",
            f"{seconds}s",
            "--stop-timeout",
            "5",
            "--only-summary",
            "--csv",
            str(report_dir / "loadtest"),
            "--html",
            str(report_dir / "loadtest.html"),
            "--loglevel",
            "WARNING",
            "--exit-code-on-error",
            "1",
        ]
        completed = subprocess.run(command, env=locust_env, cwd=ROOT, timeout=seconds + 60)
        failures, requests = 0, 0
        with open(report_dir / "loadtest_stats.csv") as handle:
            for row in csv.DictReader(handle):
                if row["Name"] == "Aggregated":
                    requests = int(row["Request Count"])
                    failures = int(row["Failure Count"])
        print(f"locust: {requests} requests, {failures} failures; report in {report_dir}")
        return 1 if failures or completed.returncode or not requests else 0
    finally:
        service.stop()
        redis_server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--report-dir", type=Path, default=ROOT / "reports")
    options = parser.parse_args()
    sys.exit(run(options.users, options.seconds, options.report_dir))


if __name__ == "__main__":
    main()
