"""The edge part of `make bench`: a badge served by Varnish (a cache hit) next to nginx
serving the same bytes as a static file.

Varnish and nginx run on the same core in turn (the badge service behind Varnish is idle
once the object is cached); wrk drives them from another core, in alternating rounds.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from tests.edge import Nginx, Varnish
from tests.servers import Service, get


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
        targets = {
            "nginx, the same bytes as a static file": nginx.url,
            f"Varnish, GET {badge_path} (cache hit)": url,
        }
        results: dict[str, list[Any]] = {name: [] for name in targets}
        for target in targets.values():  # warm-up
            wrk(target, 1, connections, [])
        for _ in range(rounds):
            for name, target in targets.items():
                results[name].append(wrk(target, seconds, connections, []))
    finally:
        if nginx is not None:
            nginx.stop()
        varnish.stop()
        backend.stop()
    medians = {name: statistics.median(r.rps for r in rs) for name, rs in results.items()}
    baseline = medians["nginx, the same bytes as a static file"]
    print(f"\nedge: {len(body)} bytes, Varnish and nginx each alone on the server core")
    print(f"{'target':<52} {'req/s (median)':>15} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>7}")
    for name, rs in results.items():
        p50 = statistics.median(r.p50_ms for r in rs)
        p99 = statistics.median(r.p99_ms for r in rs)
        errors = sum(r.non_2xx for r in rs)
        note = f"  ({errors} non-2xx/3xx)" if errors else ""
        print(
            f"{name:<52} {medians[name]:>15.0f} {p50:>8.2f} {p99:>8.2f} "
            f"{medians[name] / baseline:>7.2f}{note}"
        )
    print("ratio = median req/s / median req/s of nginx, same run (goal for the edge: >= 0.80)")
