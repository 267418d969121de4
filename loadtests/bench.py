"""`make bench`: the badge endpoints side by side with a bare uvicorn baseline, one run.

Both servers run under the same uvicorn flags on one core each turn; wrk drives them
from the other core. Rounds alternate between targets so machine noise hits both, and
we report medians and the ratio to the baseline.
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
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import Service, free_port  # noqa: E402

# Servers on the first core, wrk on the last, so the two never fight over one core.
_LAST_CORE = str((os.cpu_count() or 1) - 1)
PIN_SERVER = ["taskset", "-c", "0"] if shutil.which("taskset") and _LAST_CORE != "0" else []
PIN_CLIENT = ["taskset", "-c", _LAST_CORE] if PIN_SERVER else []
# Service adds --no-access-log and --log-level warning to these.
UVICORN_FLAGS = ("--no-server-header", "--workers", "1")


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


def wrk(url: str, seconds: int, connections: int, headers: list[str]) -> Result:
    command = [*PIN_CLIENT, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    non = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Result(rps, p50, p99, int(non.group(1)) if non else 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=4, help="length of one wrk round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per target")
    parser.add_argument("--connections", type=int, default=32)
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk (make bench installs it when root)")

    work = Path(tempfile.mkdtemp(prefix="badge-bench-"))
    port, base_port = free_port(), free_port()
    env = dict(os.environ)
    env.update(
        BADGE_DATABASE_URL=f"sqlite:///{work / 'bench.db'}",
        BADGE_KEYS_DIR=str(work / "keys"),
        BADGE_PUBLIC_URL=f"http://127.0.0.1:{port}",
        BADGE_ACCESS_LOG="false",
    )
    env.pop("BADGE_REDIS_URL", None)
    badge = [sys.executable, "-m", "badge"]
    added = subprocess.run(
        [
            *badge,
            "shops",
            "add",
            "--name",
            "Bench Shop",
            "--legal-name",
            "Bench Shop BV",
            "--enterprise-number",
            "0123.456.749",
            "--domain",
            "bench-shop.be",
            "--category",
            "b2c_member",
            "--category",
            "sponsor",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    shop_id = added.stdout.strip().splitlines()[-1]
    badge_path = f"/b/{shop_id}.svg"
    # What a real embed sends: a query string and the shop page's origin as Referer.
    embed_path = f"{badge_path}?lang=nl&size=m"
    embed_headers = ["Referer: https://www.bench-shop.be/"]

    def capture(path: str, headers: list[str], name: str, key: str) -> tuple[bytes, str]:
        """The bytes and headers our server sends for `path`, for the baseline to replay."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            headers=dict(h.split(": ", 1) for h in headers),
        )
        with urllib.request.urlopen(request) as response:
            body = response.read()
            sent = [[k.lower(), v] for k, v in response.headers.items()]
        (work / name).write_bytes(body)
        # uvicorn adds date itself; urllib asked for `Connection: close`, which wrk does not.
        kept = [h for h in sent if h[0] not in ("date", "server", "connection")]
        replay[key] = {"body": str(work / name), "headers": kept}
        return body, response.headers["etag"]

    accept = ["Accept-Encoding: gzip, br"]
    replay: dict[str, dict[str, object]] = {}
    with server("badge.app:app_from_env", env, port):
        body, etag = capture(badge_path, [], "bare", "/")
        embed_body, _ = capture(embed_path, embed_headers, "embed", "/embed")
        # The same badge as a browser asks for it: the baseline replays the coded bytes.
        coded_body, _ = capture(badge_path, accept, "coded", "/coded")
        coded_headers: list[list[str]] = replay["/coded"]["headers"]  # type: ignore[assignment]
        coding = next((v for k, v in coded_headers if k == "content-encoding"), "none")
        # Warm the verification page too, if that route exists in this build.
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v/{shop_id}").read()
            have_page = True
        except urllib.error.HTTPError:
            have_page = False
    (work / "responses.json").write_text(json.dumps(replay))
    env_base = dict(env, BENCH_RESPONSES=str(work / "responses.json"))

    # Each target is compared with the baseline receiving the same request headers.
    base = "baseline (bare uvicorn, same bytes)"
    base_inm = "baseline, request with If-None-Match"
    base_page = "baseline, request with Accept-Language"
    base_coded = "baseline, request with Accept-Encoding"
    inm = [f"If-None-Match: {etag}"]
    lang = ["Accept-Language: nl-BE"]
    base_embed = "baseline, embed-shaped request"
    targets: dict[str, tuple[str, list[str], str]] = {
        base: ("base", [], base),
        f"GET {badge_path} (200, no Referer)": (badge_path, [], base),
        base_coded: ("base/coded", accept, base_coded),
        f"GET {badge_path} (200, {coding})": (badge_path, accept, base_coded),
        base_embed: ("base/embed", embed_headers, base_embed),
        "GET embed-shaped (?lang=nl&size=m, Referer)": (embed_path, embed_headers, base_embed),
        base_inm: ("base", inm, base_inm),
        f"GET {badge_path} (304)": (badge_path, inm, base_inm),
    }
    if have_page:
        targets[base_page] = ("base", lang, base_page)
        targets[f"GET /v/{shop_id} (page)"] = (f"/v/{shop_id}", lang, base_page)
    results: dict[str, list[Result]] = {name: [] for name in targets}

    print(
        ("servers on core 0, wrk on core " + _LAST_CORE + "; " if PIN_SERVER else "")
        + f"wrk -t1 -c{options.connections} -d{options.seconds}s, {options.rounds} rounds, "
        f"uvicorn {' '.join(UVICORN_FLAGS)}; bodies {len(body)} and {len(embed_body)} bytes, "
        f"{len(coded_body)} with Accept-Encoding: gzip, br ({coding}, prepared once per variant)",
        flush=True,
    )
    with (
        server("loadtests.baseline:app_factory", env_base, base_port) as baseline,
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

    medians = {name: statistics.median(r.rps for r in rounds) for name, rounds in results.items()}
    print(
        f"\n{'target':<44} {'req/s (median)':>15} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>7}"
        f" {'per round':>10}"
    )
    for name, rounds in results.items():
        rps = medians[name]
        p50 = statistics.median(r.p50_ms for r in rounds)
        p99 = statistics.median(r.p99_ms for r in rounds)
        errors = sum(r.non_2xx for r in rounds)
        note = f"  ({errors} non-2xx/3xx)" if errors else ""
        ratio = rps / medians[targets[name][2]]
        # Each target runs right after its baseline: a per-round ratio cancels slow drifts
        # in what else the machine is doing.
        paired = statistics.median(
            r.rps / b.rps for r, b in zip(rounds, results[targets[name][2]], strict=True)
        )
        print(
            f"{name:<44} {rps:>15.0f} {p50:>8.2f} {p99:>8.2f} {ratio:>7.2f} {paired:>10.2f}{note}"
        )
    print(
        "\nratio = median req/s of the target / median req/s of the baseline that received"
        "\nthe same request headers, in the same run; per round = median of the ratios of"
        "\neach round, where the target ran right after that baseline"
    )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
