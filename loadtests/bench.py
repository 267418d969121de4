"""`make bench`: the badge endpoints side by side with a bare uvicorn baseline, one run.

Both servers run under the same uvicorn flags on one core each turn; wrk drives them
from the other core. Rounds alternate between targets so machine noise hits both, and
we report medians and the ratio to the baseline, which replays the very bytes and headers
our server sent for the same request.

Then: an embed-shaped badge of one shop while a flood of distinct `d=` host names hits
another shop (its p99, with and without the flood), cold PNG renders at each scale, and
the edge (Varnish against nginx).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loadtests import edge_bench, png_bench  # noqa: E402
from tests.servers import Service, free_port  # noqa: E402

# Servers on the first core, wrk on the last, so the two never fight over one core.
_LAST_CORE = str((os.cpu_count() or 1) - 1)
PIN_SERVER = ["taskset", "-c", "0"] if shutil.which("taskset") and _LAST_CORE != "0" else []
PIN_CLIENT = ["taskset", "-c", _LAST_CORE] if PIN_SERVER else []
# Service adds --no-access-log and --log-level warning to these.
UVICORN_FLAGS = ("--no-server-header", "--workers", "1")
# A new host name on every request, against another shop than the one measured.
FLOOD_LUA = """
local n = 0
request = function()
  n = n + 1
  local host = "h" .. n .. "-" .. math.random(1, 1000000000) .. ".example"
  return wrk.format("GET", "%s?lang=nl&size=m&d=" .. host)
end
"""


@contextmanager
def server(factory: str, env: dict[str, str], port: int) -> Iterator[Service]:
    """Both servers start the same way: same uvicorn flags, pinned to the same core."""
    service = Service(env, port, factory=factory, prefix=tuple(PIN_SERVER), flags=UVICORN_FLAGS)
    service.start()
    try:
        yield service
    finally:
        service.stop()


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk_command(
    url: str, seconds: int, connections: int, headers: list[str], script: Path | None = None
) -> list[str]:
    command = [*PIN_CLIENT, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for header in headers:
        command += ["-H", header]
    return command + (["-s", str(script)] if script else [])


def parse_wrk(output: str) -> Result:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    non = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Result(rps, p50, p99, int(non.group(1)) if non else 0)


def wrk(url: str, seconds: int, connections: int, headers: list[str]) -> Result:
    command = wrk_command(url, seconds, connections, headers)
    return parse_wrk(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


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


class Capture:
    """What our server sends for each target, written out for the baseline to replay."""

    def __init__(self, work: Path, port: int) -> None:
        self.work = work
        self.port = port
        self.replay: dict[str, dict[str, object]] = {}

    def __call__(self, path: str, headers: list[str], key: str) -> tuple[bytes, dict[str, str]]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            headers=dict(h.split(": ", 1) for h in headers),
        )
        with urllib.request.urlopen(request) as response:
            body = response.read()
            sent = {k.lower(): v for k, v in response.headers.items()}
        name = key.strip("/") or "bare"
        (self.work / name).write_bytes(body)
        # uvicorn adds date itself; urllib asked for `Connection: close`, which wrk does not.
        kept = [[k, v] for k, v in sent.items() if k not in ("date", "server", "connection")]
        self.replay[key] = {"body": str(self.work / name), "headers": kept}
        return body, sent

    def write(self) -> Path:
        path = self.work / "responses.json"
        path.write_text(json.dumps(self.replay))
        return path


Targets = dict[str, tuple[str, list[str], str]]


def side_by_side(
    env: dict[str, str], env_base: dict[str, str], port: int, targets: Targets, options: Any
) -> dict[str, list[Result]]:
    results: dict[str, list[Result]] = {name: [] for name in targets}
    with (
        server("loadtests.baseline:app_factory", env_base, free_port()) as baseline,
        server("badge.app:app_from_env", env, port) as service,
    ):
        urls = {
            name: f"{baseline.base}{path[4:] or '/'}"
            if path.startswith("base")
            else f"{service.base}{path}"
            for name, (path, _, _) in targets.items()
        }
        for name, (_, headers, _) in targets.items():  # warm-up
            wrk(urls[name], 1, options.connections, headers)
        for _ in range(options.rounds):
            for name, (_, headers, _) in targets.items():
                results[name].append(wrk(urls[name], options.seconds, options.connections, headers))
    return results


def print_table(targets: Targets, results: dict[str, list[Result]]) -> None:
    medians = {name: statistics.median(r.rps for r in rounds) for name, rounds in results.items()}
    print(
        f"\n{'target':<48} {'req/s (median)':>15} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>7}"
        f" {'per round':>10}"
    )
    for name, rounds in results.items():
        rps = medians[name]
        p50 = statistics.median(r.p50_ms for r in rounds)
        p99 = statistics.median(r.p99_ms for r in rounds)
        errors = sum(r.non_2xx for r in rounds)
        note = f"  ({errors} non-2xx/3xx)" if errors else ""
        base = targets[name][2]
        ratio = rps / medians[base]
        # Each target runs right after its baseline: a per-round ratio cancels slow drifts
        # in what else the machine is doing.
        paired = statistics.median(
            r.rps / b.rps for r, b in zip(rounds, results[base], strict=True)
        )
        print(
            f"{name:<48} {rps:>15.0f} {p50:>8.2f} {p99:>8.2f} {ratio:>7.2f} {paired:>10.2f}{note}"
        )
    print(
        "\nratio = median req/s of the target / median req/s of the baseline that received"
        "\nthe same request headers and sent the same bytes, in the same run; per round ="
        "\nmedian of the ratios of each round, where the target ran right after that baseline"
    )


def revalidation(env: dict[str, str], port: int, path: str, inm: list[str], options: Any) -> None:
    """The same badge as a 200 and as a 304, in back-to-back pairs of rounds."""
    ratios: list[float] = []
    with server("badge.app:app_from_env", env, port) as service:
        url = f"{service.base}{path}"
        wrk(url, 1, options.connections, inm)
        for _ in range(options.rounds):
            ok = wrk(url, options.seconds, options.connections, [])
            not_modified = wrk(url, options.seconds, options.connections, inm)
            ratios.append(not_modified.rps / ok.rps)
    print(
        f"\n304 / 200, same badge, {options.rounds} back-to-back pairs of rounds: median "
        f"{statistics.median(ratios):.2f} (each: {', '.join(f'{r:.2f}' for r in ratios)})"
    )


def flood(
    env: dict[str, str], port: int, measured: str, headers: list[str], flood_path: str, options: Any
) -> None:
    """The measured embed-shaped badge, alone and under a flood of distinct `d=` hosts."""
    script = Path(env["BENCH_WORK"]) / "flood.lua"
    script.write_text(FLOOD_LUA % flood_path)
    alone: list[Result] = []
    under: list[Result] = []
    floods: list[Result] = []
    with server("badge.app:app_from_env", env, port) as service:
        url = f"{service.base}{measured}"
        wrk(url, 1, 8, headers)
        for _ in range(options.rounds):
            alone.append(wrk(url, options.seconds, 8, headers))
            command = wrk_command(
                f"{service.base}{flood_path}", options.seconds + 2, 32, [], script
            )
            flooding = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            time.sleep(1.0)
            under.append(wrk(url, options.seconds, 8, headers))
            floods.append(parse_wrk(flooding.communicate()[0]))
    rate = statistics.median(r.rps for r in floods)
    print(
        f"\nembed-shaped badge of one shop (wrk -c8) while wrk -c32 asks another shop's badge"
        f" with a new d= host every request ({rate:,.0f} distinct hosts/s, median):"
    )
    for name, rounds in (("alone", alone), ("under the flood", under)):
        p50 = statistics.median(r.p50_ms for r in rounds)
        p99 = statistics.median(r.p99_ms for r in rounds)
        worst = max(r.p99_ms for r in rounds)
        rps = statistics.median(r.rps for r in rounds)
        print(
            f"  {name:<16} {rps:>9,.0f} req/s  p50 {p50:.2f} ms  p99 {p99:.2f} ms"
            f" (worst round {worst:.2f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=4, help="length of one wrk round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per target")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--skip-edge", action="store_true", help="leave out Varnish and nginx")
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk (make bench installs it when root)")

    work = Path(tempfile.mkdtemp(prefix="badge-bench-"))
    port = free_port()
    env = dict(os.environ)
    env.update(
        BADGE_DATABASE_URL=f"sqlite:///{work / 'bench.db'}",
        BADGE_KEYS_DIR=str(work / "keys"),
        BADGE_PUBLIC_URL=f"http://127.0.0.1:{port}",
        BADGE_ACCESS_LOG="false",
        BENCH_WORK=str(work),
    )
    env.pop("BADGE_REDIS_URL", None)
    shop_id = add_shop(env, "Bench Shop", "bench-shop.be")
    other_id = add_shop(env, "Other Shop", "other-shop.be")
    badge_path = f"/b/{shop_id}.svg"
    # What a real embed sends: a query string with the page's host, and its origin as Referer.
    embed_path = f"{badge_path}?lang=nl&size=m&d=bench-shop.be"
    embed_headers = ["Referer: https://www.bench-shop.be/"]
    png_path = f"/b/{shop_id}.png?scale=2"
    api_path = f"/api/v1/shops/{shop_id}"
    page_path = f"/v/{shop_id}"
    accept = ["Accept-Encoding: gzip, br"]
    lang = ["Accept-Language: nl-BE"]

    capture = Capture(work, port)
    with server("badge.app:app_from_env", env, port):
        body, sent = capture(badge_path, [], "/")
        embed_body, _ = capture(embed_path, embed_headers, "/embed")
        coded_body, coded = capture(badge_path, accept, "/coded")
        capture(png_path, embed_headers, "/png")
        capture(api_path, [], "/api")
        capture(page_path, lang, "/page")
    coding = coded.get("content-encoding", "none")
    env_base = dict(env, BENCH_RESPONSES=str(capture.write()))

    # Each target is compared with the baseline receiving the same request headers and
    # sending the same bytes.
    inm = [f"If-None-Match: {sent['etag']}"]
    b_bare, b_coded, b_embed = "baseline, bare", "baseline, Accept-Encoding", "baseline, embed"
    b_inm, b_png, b_api, b_page = (
        "baseline, If-None-Match",
        "baseline, PNG",
        "baseline, API",
        "baseline, page",
    )
    targets: Targets = {
        b_bare: ("base", [], b_bare),
        f"GET {badge_path} (200, bare)": (badge_path, [], b_bare),
        b_embed: ("base/embed", embed_headers, b_embed),
        "GET embed-shaped (?lang&size&d, Referer)": (embed_path, embed_headers, b_embed),
        b_coded: ("base/coded", accept, b_coded),
        f"GET {badge_path} (200, {coding})": (badge_path, accept, b_coded),
        b_inm: ("base", inm, b_inm),
        f"GET {badge_path} (304)": (badge_path, inm, b_inm),
        b_png: ("base/png", embed_headers, b_png),
        "GET .png?scale=2 (warm, Referer)": (png_path, embed_headers, b_png),
        b_api: ("base/api", [], b_api),
        f"GET {api_path}": (api_path, [], b_api),
        b_page: ("base/page", lang, b_page),
        f"GET {page_path} (Accept-Language)": (page_path, lang, b_page),
    }
    print(
        ("servers on core 0, wrk on core " + _LAST_CORE + "; " if PIN_SERVER else "")
        + f"wrk -t1 -c{options.connections} -d{options.seconds}s, {options.rounds} rounds, "
        f"uvicorn {' '.join(UVICORN_FLAGS)}; SVG {len(body)} bytes bare, {len(embed_body)} "
        f"embed-shaped, {len(coded_body)} as {coding} (prepared once per variant)",
        flush=True,
    )
    results = side_by_side(env, env_base, port, targets, options)
    print_table(targets, results)
    revalidation(env, port, badge_path, inm, options)
    flood(env, port, embed_path, embed_headers, f"/b/{other_id}.svg", options)
    print()
    print(png_bench.report(png_bench.run()), flush=True)
    if not options.skip_edge:
        edge_bench.run(
            env,
            embed_path,
            referer=embed_headers[0].removeprefix("Referer: "),
            wrk=wrk,
            pin_server=PIN_SERVER,
            flags=UVICORN_FLAGS,
            seconds=options.seconds,
            rounds=options.rounds,
            connections=options.connections,
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
