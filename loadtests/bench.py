"""`make bench`: the server as shipped, side by side with raw uvicorn, one run.

Ours is `badge serve`, the Dockerfile's command, with its settings. Each target has its own
baseline: raw uvicorn started with the same options (badge.cli.serve.uvicorn_options, with
uvicorn's own httptools protocol) whose application sends the status, headers and bytes
our server sent for that request. Both get the same request: path, query and headers.

The servers run on one core, wrk on the other. Rounds interleave each target with its
baseline (in turn first and second), and every figure comes as a median with the
per-round minimum and maximum. Besides req/s, each round reads the server's CPU time
(utime + stime from /proc) over the requests it served: the CPU a request costs is far
less sensitive to other work on the machine than req/s at saturation.

Then: the 304 beside the 200, an embed-shaped badge of one shop while a flood of distinct
`d=` and Referer hosts hits another shop (its p99, with and without the flood), cold PNG
renders at each scale, and the edge (Varnish against nginx).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loadtests import edge_bench, png_bench  # noqa: E402
from tests.servers import end, free_port, get, wait_for  # noqa: E402

# Servers on the first core, wrk on the last, so the two never fight over one core.
_LAST_CORE = str((os.cpu_count() or 1) - 1)
PIN_SERVER = ["taskset", "-c", "0"] if shutil.which("taskset") and _LAST_CORE != "0" else []
PIN_CLIENT = ["taskset", "-c", _LAST_CORE] if PIN_SERVER else []
# For the edge benchmark, which starts its backend with plain uvicorn and these flags.
UVICORN_FLAGS = ("--no-server-header", "--workers", "1")
# The Dockerfile's CMD, from the environment the benchmark runs in.
SERVE = [str(Path(sys.executable).with_name("badge")), "serve"]
TICKS = os.sysconf("SC_CLK_TCK")
FLOOD_P99_BOUND_MS = 5.0
# A new host name on every request, as `d=` and as the Referer's origin, against another
# shop than the one measured.
FLOOD_LUA = """
local n = 0
request = function()
  n = n + 1
  local host = "h" .. n .. "-" .. math.random(1, 1000000000) .. ".example"
  local headers = {["Referer"] = "https://" .. host .. "/"}
  return wrk.format("GET", "%s?lang=nl&size=m&d=" .. host, headers)
end
"""


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    requests: int
    # The server's CPU time over the round, per request served; 0 when not measured.
    cpu_us: float = 0.0


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    headers: tuple[str, ...]
    goal: float  # the least CPU ratio (baseline / ours) the issue asks for; 0 for none


class Server:
    """A process serving on a port, pinned to the server core; its CPU time readable."""

    def __init__(self, command: list[str], env: dict[str, str], port: int) -> None:
        self.command = [*PIN_SERVER, *command]
        self.env = env
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.env, cwd=ROOT)
        wait_for(lambda: get(self.base + "/healthz")[0] != 0, 30, " ".join(self.command))

    def stop(self) -> None:
        if self.process is not None:
            end(self.process)
            self.process = None

    def cpu_seconds(self) -> float:
        """utime + stime of the server process (taskset execs it, so it has the pid)."""
        assert self.process is not None
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS


@contextmanager
def running(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk_command(
    url: str, seconds: int, connections: int, headers: tuple[str, ...], script: Path | None = None
) -> list[str]:
    command = [*PIN_CLIENT, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for header in headers:
        command += ["-H", header]
    return command + (["-s", str(script)] if script else [])


def parse_wrk(output: str) -> Result:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    count = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Result(rps, p50, p99, int(non.group(1)) if non else 0, count)


def wrk(
    url: str, seconds: int, connections: int, headers: tuple[str, ...], server: Server | None = None
) -> Result:
    command = wrk_command(url, seconds, connections, headers)
    before = server.cpu_seconds() if server else 0.0
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    result = parse_wrk(output)
    if server is not None and result.requests:
        result.cpu_us = (server.cpu_seconds() - before) / result.requests * 1e6
    return result


def add_shop(env: dict[str, str], name: str, domain: str) -> str:
    args = ["--name", name, "--legal-name", f"{name} BV", "--enterprise-number", "0123.456.749"]
    args += ["--domain", domain, "--category", "b2c_member", "--category", "sponsor"]
    added = subprocess.run(
        [sys.executable, "-m", "badge", "shops", "add", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return added.stdout.strip().splitlines()[-1]


def capture(server: Server, target: Target, work: Path) -> Path:
    """Our response to the target's request, exactly as wrk sends it, for a baseline."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.putrequest("GET", target.path, skip_accept_encoding=True)
    for header in target.headers:
        name, value = header.split(": ", 1)
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    stem = work / re.sub(r"\W+", "-", target.name)
    stem.with_suffix(".body").write_bytes(body)
    # uvicorn adds date itself, in both servers.
    headers = [[k.lower(), v] for k, v in response.getheaders() if k.lower() != "date"]
    spec = {"status": response.status, "headers": headers, "body": str(stem.with_suffix(".body"))}
    stem.with_suffix(".json").write_text(json.dumps(spec))
    return stem.with_suffix(".json")


def baseline(spec: Path, env: dict[str, str]) -> Server:
    """Raw uvicorn replaying one captured response, on a port of its own."""
    port = free_port()
    command = [sys.executable, "-m", "loadtests.baseline", str(spec)]
    return Server(command, dict(env, BADGE_PORT=str(port)), port)


Rounds = dict[str, list[Result]]


def side_by_side(
    ours: Server, baselines: dict[str, Server], targets: list[Target], options: Any
) -> tuple[Rounds, Rounds]:
    mine: Rounds = {t.name: [] for t in targets}
    base: Rounds = {t.name: [] for t in targets}
    secs, conns = options.seconds, options.connections
    for target in targets:  # warm-up
        wrk(ours.base + target.path, 1, conns, target.headers)
        wrk(baselines[target.name].base + target.path, 1, conns, target.headers)
    for number in range(options.rounds):
        for target in targets:
            pair = [(ours, mine), (baselines[target.name], base)]
            # In turn first and second, so a drift within a round hits both alike.
            for server, results in pair if number % 2 else pair[::-1]:
                url = server.base + target.path
                results[target.name].append(wrk(url, secs, conns, target.headers, server))
    return mine, base


def spread(values: list[float], digits: int = 2) -> str:
    """median (min–max)"""
    return (
        f"{statistics.median(values):.{digits}f} "
        f"({min(values):.{digits}f}–{max(values):.{digits}f})"
    )


def print_table(targets: list[Target], mine: Rounds, base: Rounds) -> None:
    print(
        f"\n{'target':<34} {'ours µs/req':>12} {'base µs/req':>12} "
        f"{'CPU ratio (min–max)':>20} {'goal':>6} {'ours req/s':>11} {'req/s ratio (min–max)':>22}"
        f" {'p99 ms':>7}"
    )
    for target in targets:
        ours, theirs = mine[target.name], base[target.name]
        cpu = [b.cpu_us / o.cpu_us for o, b in zip(ours, theirs, strict=True)]
        rps = [o.rps / b.rps for o, b in zip(ours, theirs, strict=True)]
        goal = ""
        if target.goal:
            met = statistics.median(cpu) >= target.goal
            goal = f"{'≥' if met else '<'}{target.goal:.1f}"
        errors = sum(r.non_2xx for r in ours if not target.name.startswith("304"))
        note = f"  ({errors} non-2xx/3xx)" if errors else ""
        print(
            f"{target.name:<34} {spread([r.cpu_us for r in ours], 1):>12} "
            f"{spread([r.cpu_us for r in theirs], 1):>12} {spread(cpu):>20} {goal:>6} "
            f"{statistics.median(r.rps for r in ours):>11,.0f} {spread(rps):>22} "
            f"{statistics.median(r.p99_ms for r in ours):>7.2f}{note}"
        )
    print(
        "\nµs/req: the server process's CPU time (utime+stime) over a round / requests served;"
        "\nCPU ratio: baseline µs / ours, per round (≥ 1 is as cheap as raw uvicorn); req/s"
        "\nratio: ours / baseline, per round. Each: median of the rounds (min–max)."
    )


def revalidation(mine: Rounds, ok: str, not_modified: str) -> None:
    """The 304 beside the 200 of the same badge, from the same rounds."""
    pairs = list(zip(mine[ok], mine[not_modified], strict=True))
    cpu = [o.cpu_us / n.cpu_us for o, n in pairs]
    rps = [n.rps / o.rps for o, n in pairs]
    print(
        f"\n304 beside the 200 of the same badge, {len(pairs)} rounds: the 304 costs "
        f"{spread([n.cpu_us for _, n in pairs], 1)} µs, "
        f"the 200 {spread([o.cpu_us for o, _ in pairs], 1)} µs"
        f"; CPU ratio 200/304 {spread(cpu)}, req/s ratio 304/200 {spread(rps)}"
    )
    fast = statistics.median(cpu) >= 1 and statistics.median(rps) >= 1
    print(f"  the 304 is {'at least as fast as' if fast else 'SLOWER than'} the 200 (medians)")


def flood(
    server: Server, measured: str, headers: tuple[str, ...], flood_path: str, options: Any
) -> None:
    """The measured embed-shaped badge, alone and under a flood of distinct hosts."""
    script = Path(options.work) / "flood.lua"
    script.write_text(FLOOD_LUA % flood_path)
    alone: list[Result] = []
    under: list[Result] = []
    floods: list[Result] = []
    # The server's CPU while both run: per request (both clients' requests), and its share
    # of the round (a server far from busy means the tail comes from elsewhere).
    cpu_us: list[float] = []
    busy: list[float] = []
    url = server.base + measured
    wrk(url, 1, 8, headers)
    for _ in range(options.rounds):
        alone.append(wrk(url, options.seconds, 8, headers))
        command = wrk_command(server.base + flood_path, options.seconds + 2, 32, (), script)
        flooding = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        time.sleep(1.0)
        before = server.cpu_seconds()
        under.append(wrk(url, options.seconds, 8, headers))
        spent = server.cpu_seconds() - before
        floods.append(parse_wrk(flooding.communicate()[0]))
        served = under[-1].requests + floods[-1].rps * options.seconds
        cpu_us.append(spent / served * 1e6)
        busy.append(100 * spent / options.seconds)
    rate = statistics.median(r.rps for r in floods)
    print(
        f"\nembed-shaped badge of one shop (wrk -c8) while wrk -c32 asks another shop's badge"
        f" with a new d= and Referer host every request ({rate:,.0f} distinct hosts/s, median):"
    )
    for name, rounds in (("alone", alone), ("under the flood", under)):
        p99s = [r.p99_ms for r in rounds]
        rps = statistics.median(r.rps for r in rounds)
        p50 = statistics.median(r.p50_ms for r in rounds)
        print(f"  {name:<16} {rps:>9,.0f} req/s  p50 {p50:.2f} ms  p99 {spread(p99s)} ms")
    print(
        f"  server CPU under the flood: {spread(cpu_us, 1)} µs a request (both clients'), "
        f"busy {spread(busy, 0)} % of the time"
    )
    worst = max(r.p99_ms for r in under)
    verdict = "below" if statistics.median(r.p99_ms for r in under) < FLOOD_P99_BOUND_MS else "OVER"
    print(f"  p99 under the flood {verdict} {FLOOD_P99_BOUND_MS:.0f} ms (worst round {worst:.2f})")


def served_env(work: Path, port: int) -> dict[str, str]:
    """`badge serve`'s environment as in the image: the registry and keys in a data folder
    (`work`), everything else by default."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BADGE_")}
    env.update(
        BADGE_HOST="127.0.0.1",
        BADGE_PORT=str(port),
        BADGE_DATABASE_URL=f"sqlite:///{work / 'bench.db'}",
        BADGE_KEYS_DIR=str(work / "keys"),
    )
    return env


def targets_for(shop_id: str) -> list[Target]:
    badge = f"/b/{shop_id}.svg"
    # What a real embed sends: a query string with the page's host, and its origin as Referer.
    embed = f"{badge}?lang=nl&size=m&d=bench-shop.be"
    referer = "Referer: https://www.bench-shop.be/"
    return [
        Target("bare SVG", badge, (), 0.9),
        Target("embed-shaped", embed, (referer,), 0.9),
        Target("embed-shaped, br", embed, (referer, "Accept-Encoding: gzip, deflate, br"), 0.9),
        Target("PNG 2x, warm", f"/b/{shop_id}.png?scale=2", (referer,), 0.0),
        Target("/v/{id}", f"/v/{shop_id}", ("Accept-Language: nl-BE",), 0.8),
        Target("GET /api/v1/shops/{id}", f"/api/v1/shops/{shop_id}", (), 0.8),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=4, help="length of one wrk round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per target")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--skip-edge", action="store_true", help="leave out Varnish and nginx")
    parser.add_argument("--only-http", action="store_true", help="leave out PNG renders and edge")
    parser.add_argument("--skip-flood", action="store_true", help="leave out the host flood")
    parser.add_argument("--only", action="append", help="only targets whose name has this")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk (make bench installs it when root)")

    work = Path(tempfile.mkdtemp(prefix="badge-bench-"))
    options.work = work
    port = free_port()
    env = served_env(work, port)
    shop_id = add_shop(env, "Bench Shop", "bench-shop.be")
    other_id = add_shop(env, "Other Shop", "other-shop.be")
    targets = targets_for(shop_id)
    with running(Server(SERVE, env, port)) as ours:
        ok = targets[0]
        etag = get(ours.base + ok.path)[2]["etag"]
        targets.append(
            Target("304 (bare SVG, If-None-Match)", ok.path, (f"If-None-Match: {etag}",), 0.0)
        )
        if options.only:
            targets = [t for t in targets if any(part in t.name for part in options.only)]
        specs = {t.name: capture(ours, t, work) for t in targets}
        print(
            ("servers on core 0, wrk on core " + _LAST_CORE + "; " if PIN_SERVER else "")
            + f"wrk -t1 -c{options.connections} -d{options.seconds}s, {options.rounds} rounds;"
            f"\nours: {' '.join(SERVE)} (BADGE_HOST, BADGE_PORT, registry and keys set, the rest"
            " by default); each baseline: python -m loadtests.baseline, the same uvicorn options"
            " with --http httptools",
            flush=True,
        )
        with ExitStack() as stack:
            baselines = {
                name: stack.enter_context(running(baseline(spec, env)))
                for name, spec in specs.items()
            }
            mine, base = side_by_side(ours, baselines, targets, options)
        print_table(targets, mine, base)
        if ok.name in mine and targets[-1].name.startswith("304"):
            revalidation(mine, ok.name, targets[-1].name)
        embed = targets_for(shop_id)[1]  # whatever --only kept
        if not options.skip_flood:
            flood(ours, embed.path, embed.headers, f"/b/{other_id}.svg", options)
    if not options.only_http:
        print()
        print(png_bench.report(png_bench.run()), flush=True)
    if not (options.skip_edge or options.only_http):
        edge_bench.run(
            dict(env, BADGE_PUBLIC_URL=f"http://127.0.0.1:{port}"),
            targets_for(shop_id)[1].path,
            referer=targets_for(shop_id)[1].headers[0].removeprefix("Referer: "),
            wrk=lambda url, s, c, h: wrk(url, s, c, tuple(h)),
            pin_server=PIN_SERVER,
            flags=UVICORN_FLAGS,
            seconds=options.seconds,
            rounds=options.rounds,
            connections=options.connections,
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
