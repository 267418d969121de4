"""The benchmark's yardstick: a bare ASGI handler returning constant bytes.

It sends the same body and the same number of headers as a warm badge, so the ratio
measures what our code costs on top of uvicorn itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from starlette.types import Receive, Scope, Send


def app_factory() -> Any:
    body = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()
    headers = [
        (b"content-type", b"image/svg+xml; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"etag", b'"0123456789abcdef0123456789abcdef"'),
        (b"cache-control", b"public, max-age=240, stale-while-revalidate=60"),
        (b"x-content-type-options", b"nosniff"),
        (b"cross-origin-resource-policy", b"cross-origin"),
        (b"access-control-allow-origin", b"*"),
        (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    ]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app
