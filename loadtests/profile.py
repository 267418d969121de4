"""`make profile`: where `badge serve` spends its time on the embed-shaped badge request.

Starts `badge serve` as `make bench` does (pinned to the server core), drives it with wrk
on the other core with the embed-shaped request (`?lang=nl&size=m&d=` and the shop's
Referer; `--br` adds `Accept-Encoding: gzip, deflate, br`), and samples it with py-spy. It
prints where the event loop's thread spends its samples: uvicorn's response writing, its
parsing and protocol callbacks, our application (function by function), and the rest
(the loop itself, in C). py-spy's raw output is kept for a flame graph
(`flamegraph.pl` or speedscope) when `--keep` names a file.

    python loadtests/profile.py [--seconds 10] [--br] [--keep FILE]
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loadtests.bench import (  # noqa: E402
    SERVE,
    Server,
    add_shop,
    running,
    served_env,
    targets_for,
    wrk_command,
)
from tests.servers import free_port  # noqa: E402

PY_SPY = str(Path(sys.executable).with_name("py-spy"))


def share(raw: Path) -> tuple[int, collections.Counter[str]]:
    """Samples of the event loop's thread, by where they are: uvicorn or our code."""
    where: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "Server.run" not in stack:  # another thread: the render pool's, anyio's workers
            continue
        frames = stack.split(";")
        total += int(count)
        # What the loop runs: the frames above it (the CLI, uvicorn.run) are on every stack.
        starts = ("Runner.run", "Server.run")
        loop = max(i for i, f in enumerate(frames) if f.startswith(starts))
        ours = [f for f in frames[loop + 1 :] if "(badge/" in f]
        if any(f.startswith("RequestResponseCycle.send") for f in frames):
            where["uvicorn: writing the response (send)"] += int(count)
        elif ours:
            # The innermost of our functions: its own lines and what it calls.
            where["ours: " + ours[-1].split(" (")[0]] += int(count)
        elif any("data_received" in f or "on_headers_complete" in f for f in frames):
            where["uvicorn: parsing and protocol callbacks"] += int(count)
        elif frames[-1].startswith("Runner.run"):
            where["event loop (C: uvloop, httptools, sockets)"] += int(count)
        else:
            where["other: " + frames[-1].split(" (")[0]] += int(count)
    return total, where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--br", action="store_true", help="ask for Brotli, as browsers do")
    parser.add_argument("--keep", type=Path, help="write py-spy's raw (collapsed) stacks here")
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="badge-profile-"))
    port = free_port()
    env = served_env(work, port)
    target = targets_for(add_shop(env, "Bench Shop", "bench-shop.be"))[2 if options.br else 1]
    raw = options.keep or work / "profile.txt"
    with running(Server(SERVE, env, port)) as server:
        assert server.process is not None
        url = server.base + target.path
        subprocess.run(wrk_command(url, 2, 32, target.headers), capture_output=True, check=True)
        load = subprocess.Popen(
            wrk_command(url, options.seconds + 2, 32, target.headers), stdout=subprocess.DEVNULL
        )
        record = [PY_SPY, "record", "-p", str(server.process.pid), "-r", "500", "-f", "raw"]
        record += ["-d", str(options.seconds), "-o", str(raw)]
        subprocess.run(record, capture_output=True, check=True)
        load.wait()
    total, where = share(raw)
    print(f"{target.name}: {total} samples of the event loop's thread (py-spy, 500 Hz)")
    for name, count in where.most_common(25):
        print(f"  {100 * count / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
