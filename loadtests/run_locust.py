"""`make loadtest`: locust, headless, against a deployment or a service it starts itself.

- `--target URL` (make: TARGET=) loads an existing deployment: staging, or the compose
  edge. Shops come from `--shops FILE` (make: SHOPS=): JSON (`[{"id", "domains"}]` or a
  list of ids), or text with one shop a line (`id [domain ...]`, commas or spaces); ids
  without domains get them from the target's public API (`/api/v1/shops/{id}`). With an
  admin token (LOCUST_ADMIN_TOKEN, make: TOKEN=) and no file, the admin API lists them.
  Admin traffic runs only with a token, and a state change only of `--toggle-shop`.
- Without `--target` it starts redis-server and the service on free loopback ports, seeds
  the demo shops and an admin token, as before.
- `--workers N` (make: WORKERS=) runs a locust master and N worker processes.

Every run keeps locust's HTML report (with its charts) and CSV files under
var/loadtest/<UTC timestamp>/. Exits non-zero when any request failed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import RedisServer, Service, cli, free_port, service_env  # noqa: E402

LOCUSTFILE = ROOT / "loadtests" / "locustfile.py"
REPORTS = ROOT / "var" / "loadtest"
# A browser's clock in the run, so revalidations at max-age happen in short runs too.
DEFAULT_TIME_SCALE = 60.0


@dataclass
class Plan:
    target: str
    shops: list[dict[str, object]]
    token: str = ""
    toggle_shop: str = ""
    env: dict[str, str] = field(default_factory=dict)


def read_shops_file(path: Path) -> list[dict[str, object]]:
    """JSON (objects with id and domains, or bare ids) or lines of `id [domain ...]`."""
    text = path.read_text()
    if text.lstrip().startswith("["):
        rows = json.loads(text)
        return [
            {"id": str(row), "domains": []}
            if isinstance(row, str)
            else {"id": str(row["id"]), "domains": list(row.get("domains") or [])}
            for row in rows
        ]
    shops = []
    for line in text.splitlines():
        parts = line.replace(",", " ").split()
        if parts and not parts[0].startswith("#") and parts[0] != "id":
            shops.append({"id": parts[0], "domains": parts[1:]})
    return shops


def fetch_json(url: str, token: str = "") -> dict[str, object]:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        data: dict[str, object] = json.load(response)
    return data


def fill_domains(target: str, shops: list[dict[str, object]]) -> list[dict[str, object]]:
    """Shops given by id alone get their registered domains from the public API."""
    filled = []
    for shop in shops:
        if not shop["domains"]:
            quoted = urllib.parse.quote(str(shop["id"]), safe="")
            try:
                found = fetch_json(f"{target}/api/v1/shops/{quoted}")
            except urllib.error.HTTPError as exc:
                raise SystemExit(f"shop {shop['id']}: the target answered {exc.code}") from None
            shop = {"id": shop["id"], "domains": list(found.get("domains") or [])}  # type: ignore[call-overload]
        filled.append(shop)
    return filled


def admin_shops(target: str, token: str) -> list[dict[str, object]]:
    data = fetch_json(f"{target}/admin/api/v1/shops?limit=1000", token)
    rows = data.get("shops") or []
    return [{"id": row["id"], "domains": row.get("domains") or []} for row in rows]  # type: ignore[union-attr]


def plan_for_target(options: argparse.Namespace) -> Plan:
    target = options.target.rstrip("/")
    token = os.environ.get("LOCUST_ADMIN_TOKEN", "")
    if options.shops is not None:
        shops = fill_domains(target, read_shops_file(options.shops))
    elif token:
        shops = admin_shops(target, token)
    else:
        raise SystemExit(
            "name the shops to load: --shops FILE (make: SHOPS=), ids with or without "
            "domains, or give an admin token (LOCUST_ADMIN_TOKEN, make: TOKEN=)"
        )
    if not shops:
        raise SystemExit("no shops to load")
    return Plan(target, shops, token, options.toggle_shop or "")


def start_own(stack: ExitStack) -> Plan:
    """redis-server and the service on free loopback ports, with the demo shops."""
    work = Path(tempfile.mkdtemp(prefix="badge-loadtest-"))
    redis_server = RedisServer(work)
    redis_server.start()
    stack.callback(redis_server.stop)
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
    demo = cli(env, "demo")
    if demo.returncode != 0:
        raise RuntimeError(demo.stderr)
    rows = [line.split() for line in demo.stdout.splitlines() if line.strip()]
    token = cli(env, "tokens", "create", "loadtest").stdout.strip().splitlines()[-1]
    certified = next(row[0] for row in rows if row[1] == "certified")
    service.start()
    stack.callback(service.stop)
    shops = fill_domains(service.base, [{"id": row[0], "domains": []} for row in rows])
    return Plan(service.base, shops, token, certified, env)


def locust_command(plan: Plan, options: argparse.Namespace, report_dir: Path) -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--host", plan.target,
        "-u", str(options.users), "-r", str(max(1, options.users // 2)),
        "-t", f"{options.seconds}s", "--stop-timeout", "5", "--only-summary",
        "--csv", str(report_dir / "loadtest"), "--html", str(report_dir / "report.html"),
        "--loglevel", "WARNING", "--exit-code-on-error", "1",
    ]  # fmt: skip


def run_locust(plan: Plan, options: argparse.Namespace, report_dir: Path) -> int:
    env = dict(
        os.environ,
        **plan.env,
        LOCUST_SHOPS=str(report_dir / "shops.json"),
        LOCUST_ADMIN_TOKEN=plan.token,
        LOCUST_TOGGLE_SHOP=plan.toggle_shop,
        LOCUST_TIME_SCALE=str(options.time_scale),
    )
    (report_dir / "shops.json").write_text(json.dumps(plan.shops, indent=1) + "\n")
    command = locust_command(plan, options, report_dir)
    timeout = options.seconds + 120
    if options.workers <= 0:
        return subprocess.run(command, env=env, cwd=ROOT, timeout=timeout).returncode
    port = free_port()
    master = [
        *command, "--master", "--expect-workers", str(options.workers),
        "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
    ]  # fmt: skip
    worker = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker",
        "--master-host", "127.0.0.1", "--master-port", str(port), "--loglevel", "WARNING",
    ]  # fmt: skip
    leader = subprocess.Popen(master, env=env, cwd=ROOT)
    workers = [subprocess.Popen(worker, env=env, cwd=ROOT) for _ in range(options.workers)]
    try:
        return leader.wait(timeout=timeout)
    finally:
        # Workers quit when the master does; any that did not are stopped here.
        deadline = time.monotonic() + 10
        for process in (leader, *workers):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.terminate()
                process.wait(timeout=10)


def summary(report_dir: Path) -> tuple[int, int]:
    with open(report_dir / "loadtest_stats.csv") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                return int(row["Request Count"]), int(row["Failure Count"])
    return 0, 0


def run(options: argparse.Namespace) -> int:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    report_dir: Path = options.report_dir or REPORTS / stamp
    report_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        plan = plan_for_target(options) if options.target else start_own(stack)
        code = run_locust(plan, options, report_dir)
    requests, failures = summary(report_dir)
    print(
        f"locust: {requests} requests, {failures} failures against {plan.target} "
        f"({len(plan.shops)} shops, {options.workers or 'no'} workers); "
        f"report in {report_dir}/report.html"
    )
    return 1 if failures or code or not requests else 0


def parser() -> argparse.ArgumentParser:
    found = argparse.ArgumentParser(description=__doc__)
    found.add_argument("--target", help="a deployment to load (default: start one here)")
    found.add_argument("--shops", type=Path, help="shop ids (and domains) to load")
    found.add_argument("--toggle-shop", help="with a token: the one shop whose state may change")
    found.add_argument("--workers", type=int, default=0, help="locust worker processes")
    found.add_argument("--users", type=int, default=50)
    found.add_argument("--seconds", type=int, default=60)
    found.add_argument("--time-scale", type=float, default=DEFAULT_TIME_SCALE,
                       help="how much faster browsers' clocks run (revalidations)")  # fmt: skip
    found.add_argument("--report-dir", type=Path, help="default: var/loadtest/<timestamp>/")
    return found


def main() -> None:
    sys.exit(run(parser().parse_args()))


if __name__ == "__main__":
    main()
