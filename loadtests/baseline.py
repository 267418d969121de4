"""The benchmark's yardstick: raw uvicorn answering with constant bytes.

`python -m loadtests.baseline RESPONSE.json` runs uvicorn with the very options `badge serve`
uses (badge.cli.serve.uvicorn_options: host, port, limits, logging, proxy headers), except
that the HTTP protocol is uvicorn's own httptools one rather than ours. Its application is
the smallest ASGI function there is: it sends the status, headers and body our server sent
for the same request (captured by bench.py), so the ratio measures what our code costs on
top of uvicorn itself.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from starlette.types import Receive, Scope, Send


def app_factory() -> Any:
    """BENCH_RESPONSE names a JSON file: {"status", "headers": [[name, value]], "body": file}."""
    spec = json.loads(Path(os.environ["BENCH_RESPONSE"]).read_text())
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in spec["headers"]]
    start = {"type": "http.response.start", "status": spec["status"], "headers": headers}
    body = {"type": "http.response.body", "body": Path(spec["body"]).read_bytes()}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await send(start)
            await send(body)
            return
        while scope["type"] == "lifespan":
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    return app


def main() -> None:
    import uvicorn

    from badge.cli.serve import uvicorn_options
    from badge.settings import Settings

    os.environ["BENCH_RESPONSE"] = sys.argv[1]
    options = uvicorn_options(Settings.from_env())
    options["http"] = "httptools"
    uvicorn.run("loadtests.baseline:app_factory", **options)


if __name__ == "__main__":
    main()
