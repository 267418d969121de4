"""The edge part of `make bench`: a badge served by Varnish (a cache hit) next to nginx
serving the same bytes as a static file.

Varnish and nginx run on the same core in turn (the badge service behind Varnish is idle
once the object is cached); wrk drives them from another core, in alternating rounds.

Two figures per target: requests a second, and requests per CPU second of the server's
processes. On a machine shared with other jobs the first swings with whatever else runs
on the server core; the second counts only the CPU the server itself spent.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.edge import Nginx, Varnish
from tests.servers import Service, get

_TICKS = os.sysconf("SC_CLK_TCK")


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


def run(
    service_env: dict[str, str],
    badge_path: str,
    *,
    wrk: Callable[[str, int, int, list[str]], Any],
    pin_server: Sequence[str],
    flags: Sequence[str],
    seconds: int,
    rounds: int,
    connections: int,
) -> None:
    backend = Service(
        service_env, factory="badge.app:app_from_env", prefix=tuple(pin_server), flags=tuple(flags)
    )
    backend.start()
    varnish = Varnish([backend.port], prefix=pin_server, storage="malloc,128m")
    nginx: Nginx | None = None
    try:
        varnish.start()
        url = varnish.base + badge_path
        get(url)
        status, body, headers = get(url)
        cache = {k.lower(): v for k, v in headers.items()}.get("x-cache")
        if status != 200 or cache != "HIT":
            raise RuntimeError(f"the badge is not a cache hit at the edge: {status} {cache}")
        nginx = Nginx(body, "image/svg+xml; charset=utf-8", prefix=pin_server)
        nginx.start()
        assert varnish.process is not None and nginx.process is not None
        targets = {
            "nginx, the same bytes as a static file": (nginx.url, nginx.process.pid),
            f"Varnish, GET {badge_path} (cache hit)": (url, varnish.process.pid),
        }
        results: dict[str, list[Round]] = {name: [] for name in targets}
        for target, _ in targets.values():  # warm-up
            wrk(target, 1, connections, [])
        for _ in range(rounds):
            for name, (target, pid) in targets.items():
                before = tree_cpu_seconds(pid)
                r = wrk(target, seconds, connections, [])
                cpu = max(tree_cpu_seconds(pid) - before, 1 / _TICKS)
                results[name].append(
                    Round(r.rps, r.p50_ms, r.p99_ms, r.non_2xx, r.rps * seconds / cpu)
                )
    finally:
        if nginx is not None:
            nginx.stop()
        varnish.stop()
        backend.stop()
    _report(results, len(body))


def _report(results: dict[str, list[Round]], size: int) -> None:
    rps = {name: statistics.median(r.rps for r in rs) for name, rs in results.items()}
    per_cpu = {
        name: statistics.median(r.per_cpu_second for r in rs) for name, rs in results.items()
    }
    base = next(iter(results))
    print(f"\nedge: {size} bytes, Varnish and nginx each alone on the server core")
    print(
        f"{'target':<52} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'ratio':>6}"
        f" {'req/CPU s':>10} {'ratio':>6}  {'req/s min-max':>13}"
    )
    for name, rs in results.items():
        p50 = statistics.median(r.p50_ms for r in rs)
        p99 = statistics.median(r.p99_ms for r in rs)
        errors = sum(r.non_2xx for r in rs)
        note = f"  ({errors} non-2xx/3xx)" if errors else ""
        spread = f"{min(r.rps for r in rs):.0f}-{max(r.rps for r in rs):.0f}"
        print(
            f"{name:<52} {rps[name]:>8.0f} {p50:>7.2f} {p99:>7.2f} {rps[name] / rps[base]:>6.2f}"
            f" {per_cpu[name]:>10.0f} {per_cpu[name] / per_cpu[base]:>6.2f}  {spread:>13}{note}"
        )
    print(
        "medians of alternating rounds; ratios to nginx in the same run (goal for the edge:"
        "\n>= 0.80). req/CPU s counts the server's own CPU time, so other jobs on its core"
        "\nmove it far less than req/s."
    )
