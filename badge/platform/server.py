"""uvicorn's httptools protocol with read timeouts for slow clients, as `badge serve` runs it.

uvicorn 0.x times out idle keep-alive connections only: a client that connects and then
sends its request line and headers a byte at a time (or never) holds the connection for
ever, and so does one that announces a body and never sends it. Here each connection gets:

- a header timeout: the request line and headers must arrive within
  `BADGE_HEADER_TIMEOUT` seconds of the connection opening (or of the previous response,
  on a keep-alive connection), else a 408 and the connection is closed;
- a body timeout: a request body must arrive within `BADGE_BODY_TIMEOUT` seconds of its
  headers, else the connection is closed (the application sees a disconnect).

uvicorn's own `limit_concurrency` 503 gets a Cache-Control and a Retry-After here too.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Final

from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from badge.settings import Settings

PROTOCOL: Final = "badge.platform.server:BadgeHttpProtocol"
_TIMEOUT_408: Final = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 16\r\n"
    b"cache-control: no-store\r\n"
    b"connection: close\r\n"
    b"\r\n"
    b"request timeout\n"
)


@functools.cache
def _timeouts() -> tuple[float, float]:
    """Read once per process from the same BADGE_* variables as the app."""
    settings = Settings.from_env()
    return settings.header_timeout, settings.body_timeout


async def overloaded(scope: Scope, receive: Receive, send: Send) -> None:
    """What a client over `limit_concurrency` gets: at once, and never cached."""
    body = b"overloaded; try again shortly\n"
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"retry-after", b"1"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BadgeHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout, self.body_timeout = _timeouts()
        self._read_timer: asyncio.TimerHandle | None = None
        self._awaiting_headers = False

    def _arm(self, seconds: float, *, headers: bool) -> None:
        self._disarm()
        self._awaiting_headers = headers
        self._read_timer = self.loop.call_later(seconds, self._read_timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if self._awaiting_headers and (self.cycle is None or self.cycle.response_complete):
            # No application has this request yet: answer for it.
            self.transport.write(_TIMEOUT_408)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, headers=True)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # A keep-alive connection starting its next request: its headers are on the clock.
        if self._read_timer is None:
            self._arm(self.header_timeout, headers=True)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        if self.parser is not None and self._expects_body():
            self._arm(self.body_timeout, headers=False)

    def _expects_body(self) -> bool:
        for name, value in self.headers:
            if name == b"content-length":
                return value.strip() not in (b"", b"0")
            if name == b"transfer-encoding":
                return True
        return False

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # A pipelined request may already be parsed; otherwise uvicorn's keep-alive timer
        # covers the idle time and on_message_begin re-arms ours for the next headers.
        self._disarm()

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        if app is service_unavailable:
            app = overloaded
        super()._start_asgi_task(cycle, app)
