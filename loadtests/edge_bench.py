"""The edge part of `make bench`: one embed-shaped badge request, as a browser sends it,
answered from cache by Varnish (our VCL, deploy/varnish/varnishd.params) and by nginx's
proxy_cache, with nginx serving the same bytes as a static file as the ceiling.

Each server runs in turn on the same core (the badge service behind the caches is idle once
the objects are cached); wrk drives them from another core, in interleaved rounds. Each
target is printed with its median requests a second, the slowest and fastest round, and the
requests per CPU second of the server's own processes, which other jobs on the machine move
far less. Varnish's gzip counters are read before and after: no hit may gunzip.

`python loadtests/edge_bench.py --param NAME=VALUE ...` adds a Varnish with those runtime
parameters on top of the shipped ones, for choosing them by measurement.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.edge import Nginx, Varnish  # noqa: E402
from tests.servers import Service, get  # noqa: E402

_TICKS = os.sysconf("SC_CLK_TCK")
# What Chromium sends for an <img> on a shop's page (its Referer comes from the caller). A
# browser reaching the edge on the default port names the host alone; wrk would send
# `127.0.0.1:port`, which no browser sends a public edge (and which Varnish then rewrites on
# every request, where nginx's $host drops the port while parsing).
BROWSER_HEADERS = (
    "Host: badges.keurmerk.example",
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Accept: image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
    "Accept-Encoding: gzip, deflate, br",
    "Accept-Language: nl-BE,nl;q=0.9,en;q=0.8",
    "Sec-Fetch-Site: cross-site",
    "Sec-Fetch-Mode: no-cors",
    "Sec-Fetch-Dest: image",
)
GUNZIP_COUNTERS = ("MAIN.n_gunzip", "MAIN.n_gzip", "MAIN.n_test_gunzip")
# Goal for a Varnish hit against an nginx proxy_cache hit of the same request (issue 19).
GOAL = 0.9


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of a process and all its live descendants (threads included)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces; the fields after it are fixed.
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / _TICKS
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += times.get(pid, 0.0)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return total


@dataclass
class Round:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    per_cpu_second: float


@dataclass
class Target:
    url: str
    headers: list[str]
    pid: int
    status: int


def _fetch(url: str, headers: Sequence[str]) -> tuple[int, bytes, dict[str, str]]:
    status, body, sent = get(url, dict(h.split(": ", 1) for h in headers))
    return status, body, {k.lower(): v for k, v in sent.items()}


def _cached(url: str, headers: list[str], what: str) -> tuple[bytes, dict[str, str]]:
    """The response once the edge holds it: asked twice, the second must be a hit."""
    _fetch(url, headers)
    status, body, sent = _fetch(url, headers)
    if status != 200 or sent.get("x-cache") != "HIT":
        raise RuntimeError(f"{what}: not a cache hit: {status} {sent.get('x-cache')}")
    return body, sent


def run(
    service_env: dict[str, str],
    badge_path: str,
    *,
    referer: str,
    wrk: Callable[[str, int, int, list[str]], Any],
    pin_server: Sequence[str],
    flags: Sequence[str],
    seconds: int,
    rounds: int,
    connections: int,
    trial_params: Sequence[str] = (),
) -> None:
    headers = [*BROWSER_HEADERS, f"Referer: {referer}"]
    backend = Service(
        service_env, factory="badge.app:app_from_env", prefix=tuple(pin_server), flags=tuple(flags)
    )
    backend.start()
    varnishes = [Varnish([backend.port], prefix=pin_server, storage="malloc,128m")]
    if trial_params:
        varnishes.append(
            Varnish([backend.port], prefix=pin_server, storage="malloc,128m", params=trial_params)
        )
    nginx: Nginx | None = None
    try:
        for varnish in varnishes:
            varnish.start()
        url = varnishes[0].base + badge_path
        body, sent = _cached(url, headers, "Varnish")
        if sent.get("content-encoding") != "br":
            raise RuntimeError(f"Varnish sent {sent.get('content-encoding')}, not br")
        not_modified = [*headers, f"If-None-Match: {sent['etag']}"]
        nginx = Nginx(
            body,
            sent["content-type"],
            prefix=pin_server,
            content_encoding="br",
            cache_backend=backend.port,
        )
        nginx.start()
        assert nginx.process is not None
        nginx_body, _ = _cached(nginx.base + badge_path, headers, "nginx proxy_cache")
        if nginx_body != body:
            raise RuntimeError("nginx's cached badge differs from Varnish's")
        pids = [v.process.pid for v in varnishes if v.process is not None]
        targets = {
            "nginx, the same bytes as a static file": Target(
                nginx.url, headers, nginx.process.pid, 200
            ),
            "nginx proxy_cache hit (200)": Target(
                nginx.base + badge_path, headers, nginx.process.pid, 200
            ),
            "Varnish hit (200)": Target(url, headers, pids[0], 200),
            "Varnish hit, If-None-Match (304)": Target(url, not_modified, pids[0], 304),
        }
        if trial_params:
            trial = "Varnish + the trial parameters (200)"
            targets[trial] = Target(varnishes[1].base + badge_path, headers, pids[1], 200)
            _cached(targets[trial].url, headers, trial)
        for name, target in targets.items():
            status = _fetch(target.url, target.headers)[0]
            if status != target.status:
                raise RuntimeError(f"{name}: HTTP {status}, expected {target.status}")
        before = [v.counters(*GUNZIP_COUNTERS, "MAIN.backend_req") for v in varnishes]
        results = _measure(targets, wrk, seconds, rounds, connections)
        after = [v.counters(*GUNZIP_COUNTERS, "MAIN.backend_req") for v in varnishes]
    finally:
        if nginx is not None:
            nginx.stop()
        for varnish in varnishes:
            varnish.stop()
        backend.stop()
    _report(results, len(body), badge_path, referer)
    if trial_params:
        print(f"trial parameters: {' '.join(trial_params)}")
    for varnish_before, varnish_after in zip(before, after, strict=True):
        changes = ", ".join(
            f"{name} {varnish_before[name]} -> {varnish_after[name]}" for name in varnish_before
        )
        print(f"varnishstat across the run: {changes}")
        gunzips = varnish_after["MAIN.n_gunzip"] - varnish_before["MAIN.n_gunzip"]
        if gunzips:
            raise RuntimeError(f"Varnish gunzipped {gunzips} times during the bench")


def _measure(
    targets: dict[str, Target],
    wrk: Callable[[str, int, int, list[str]], Any],
    seconds: int,
    rounds: int,
    connections: int,
) -> dict[str, list[Round]]:
    results: dict[str, list[Round]] = {name: [] for name in targets}
    for target in targets.values():  # warm-up
        wrk(target.url, 1, connections, target.headers)
    for _ in range(rounds):
        for name, target in targets.items():
            before = tree_cpu_seconds(target.pid)
            r = wrk(target.url, seconds, connections, target.headers)
            cpu = max(tree_cpu_seconds(target.pid) - before, 1 / _TICKS)
            results[name].append(Round(r.rps, r.p50_ms, r.p99_ms, r.non_2xx, r.rps * seconds / cpu))
    return results


def _ratios(rounds: list[Round], reference: list[Round], field: str) -> tuple[float, float, float]:
    """Median, lowest and highest of one target's figure over the reference's, round by round:
    the two ran seconds apart, so a change in the machine's load moves both."""
    ratios = [
        getattr(r, field) / getattr(ref, field) for r, ref in zip(rounds, reference, strict=True)
    ]
    return statistics.median(ratios), min(ratios), max(ratios)


def _report(results: dict[str, list[Round]], size: int, path: str, referer: str) -> None:
    static, cached = list(results)[:2]
    print(
        f"\nedge: GET {path} as Chromium sends it (Referer {referer}, Accept-Encoding: gzip,"
        f" deflate, br, an image Accept), {size} bytes of br; each server alone on the server core"
    )
    print(
        f"{'target':<38} {'req/s':>7} {'min':>7} {'max':>7} {'p99 ms':>6} {'x static':>8}"
        f" {'x nginx hit':>16} {'req/CPU s':>9} {'min':>7} {'max':>7} {'x nginx hit':>16}"
    )
    for name, rs in results.items():
        errors = sum(r.non_2xx for r in rs)
        note = f"  ({errors} 4xx/5xx)" if errors else ""
        rate = [r.rps for r in rs]
        per_cpu = [r.per_cpu_second for r in rs]
        by_static = _ratios(rs, results[static], "rps")[0]
        by_rate = "{:.2f} ({:.2f}-{:.2f})".format(*_ratios(rs, results[cached], "rps"))
        by_cpu = "{:.2f} ({:.2f}-{:.2f})".format(*_ratios(rs, results[cached], "per_cpu_second"))
        print(
            f"{name:<38} {statistics.median(rate):>7.0f} {min(rate):>7.0f} {max(rate):>7.0f}"
            f" {statistics.median(r.p99_ms for r in rs):>6.2f} {by_static:>8.2f} {by_rate:>16}"
            f" {statistics.median(per_cpu):>9.0f} {min(per_cpu):>7.0f} {max(per_cpu):>7.0f}"
            f" {by_cpu:>16}{note}"
        )
    print(
        f"req/s and req/CPU s (the server's own CPU time): median of {len(results[static])}"
        " interleaved rounds, then the slowest\nand fastest round. x: the median of the"
        " per-round ratios (each round's targets ran seconds apart), then the\nlowest and"
        f" highest. Goal for the Varnish hit: >= {GOAL} x the nginx proxy_cache hit."
    )


def main() -> None:
    """The edge bench alone, with a shop of its own; `--param` tries runtime parameters."""
    from loadtests import bench

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--param", action="append", default=[], help="NAME=VALUE, for varnishd")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="badge-edge-bench-"))
    env = dict(os.environ)
    env.update(
        BADGE_DATABASE_URL=f"sqlite:///{work / 'bench.db'}",
        BADGE_KEYS_DIR=str(work / "keys"),
        BADGE_PUBLIC_URL="http://127.0.0.1:8000",
    )
    env.pop("BADGE_REDIS_URL", None)
    shop_id = bench.add_shop(env, "Bench Shop", "bench-shop.be")
    run(
        env,
        f"/b/{shop_id}.svg?lang=nl&size=m&d=bench-shop.be",
        referer="https://www.bench-shop.be/",
        wrk=bench.wrk,
        pin_server=bench.PIN_SERVER,
        flags=bench.UVICORN_FLAGS,
        seconds=options.seconds,
        rounds=options.rounds,
        connections=options.connections,
        trial_params=options.param,
    )


if __name__ == "__main__":
    main()
