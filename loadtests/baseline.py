"""The benchmark's yardstick: a bare ASGI handler returning constant bytes.

It sends the very body and headers a warm badge sent (one dict lookup by path picks which),
so the ratio measures what our code costs on top of uvicorn itself.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from starlette.types import Receive, Scope, Send


def app_factory() -> Any:
    """BENCH_RESPONSES names a JSON file: {path: {"body": file, "headers": [[name, value]]}},
    the exact bytes and headers our server sent for each target, captured by bench.py."""
    spec = json.loads(Path(os.environ["BENCH_RESPONSES"]).read_text())
    responses: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for path, item in spec.items():
        body = Path(item["body"]).read_bytes()
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in item["headers"]]
        responses[path] = (
            {"type": "http.response.start", "status": 200, "headers": headers},
            {"type": "http.response.body", "body": body},
        )
    fallback = responses["/"]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        start, body = responses.get(scope["path"], fallback)
        await send(start)
        await send(body)

    return app
