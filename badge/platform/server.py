"""uvicorn's httptools protocol with read timeouts for slow clients, as `badge serve` runs it.

uvicorn 0.x times out idle keep-alive connections only: a client that connects and then
sends its request line and headers a byte at a time (or never) holds the connection for
ever, and so does one that announces a body and never sends it. Here each connection gets:

- a header timeout: the request line and headers must arrive within
  `BADGE_HEADER_TIMEOUT` seconds of the connection opening (or of the first byte of the
  next request, on a keep-alive connection), else a 408 and the connection is closed;
- a body timeout: a request body must arrive within `BADGE_BODY_TIMEOUT` seconds of its
  headers, else the connection is closed (the application sees a disconnect).

Nothing of this runs per request: one sweep a second looks at each open connection's
state (uvicorn's own request cycle says which part of a request it waits for) and closes
those that have waited past their deadline. A wait is timed from the sweep that first sees
it (from the connection's opening for its first request), so a slow client is cut off a
second or two late, never early.

uvicorn's own `limit_concurrency` 503 gets a Cache-Control and a Retry-After here too.

An application may answer some requests itself, from bytes it holds, as their headers
complete (`RawAnswers`: the badge hot path's warm answers): no ASGI scope, request cycle or
task, and one write. Only a plain request gets this (GET or HEAD on HTTP/1.1, kept alive, no
body, nothing in flight before it on the connection, under the concurrency limit), and it
is counted, logged and timed out like any other; anything else goes the ASGI way.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from typing import Any, Final, Protocol

from starlette.types import Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware
from uvicorn.protocols.http.flow_control import service_unavailable
from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    HEADER_VALUE_RE,
    STATUS_LINE,
    HttpToolsProtocol,
)
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

from badge.settings import Settings

PROTOCOL: Final = "badge.platform.server:BadgeHttpProtocol"
SWEEP_SECONDS: Final = 1.0
_TIMEOUT_408: Final = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 16\r\n"
    b"cache-control: no-store\r\n"
    b"connection: close\r\n"
    b"\r\n"
    b"request timeout\n"
)
_monotonic = time.monotonic
Headers = list[tuple[bytes, bytes]]


class RawAnswers(Protocol):
    """What an application offers to answer at the protocol (`raw_answers` on the app)."""

    def answer(
        self,
        method: str,
        url: bytes,
        headers: Headers,
        state: dict[str, Any],
        write: Callable[[bytes], object],
        date: bytes,
    ) -> int:
        """Write the whole response to a GET or HEAD of `url` (request target as sent) and
        return its status, or return 0 having written nothing. The response is the status
        line, then `date` (the headers uvicorn puts first), then the application's headers
        (`wire_head`), then the body unless the method is HEAD, in one `write` that is its
        last step: when it raises, nothing has been written."""
        ...


def wire_head(status: int, headers: tuple[tuple[bytes, bytes], ...]) -> tuple[bytes, bytes] | None:
    """The status line and the header block (with its blank line) uvicorn would write for
    this response start, or None when it would write something else for it: a header it
    checks or adds for (connection, transfer-encoding), no content-length on a status that
    has a body, or a name or value it refuses."""
    named = {name.lower() for name, _ in headers}
    if b"connection" in named or b"transfer-encoding" in named:
        return None
    if b"content-length" not in named and status not in (204, 304):
        return None
    if any(HEADER_RE.search(n) or HEADER_VALUE_RE.search(v) for n, v in headers):
        return None
    lines = b"".join(name.lower() + b": " + value + b"\r\n" for name, value in headers)
    return STATUS_LINE[status], lines + b"\r\n"


def raw_answers(app: object) -> RawAnswers | None:
    """The application's `raw_answers`, under uvicorn's proxy-headers wrapper if any (the
    only wrapper it adds that looks at nothing a raw answer needs)."""
    if isinstance(app, ProxyHeadersMiddleware):
        app = app.app
    found: RawAnswers | None = getattr(app, "raw_answers", None)
    return found


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


class Sweeper:
    """The open connections of one event loop, checked against their deadlines each sweep.

    The timer runs only while connections are open, so an idle server does no work.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self.loop = loop
        self.interval = interval
        self.connections: set[BadgeHttpProtocol] = set()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, connection: BadgeHttpProtocol) -> None:
        self.connections.add(connection)
        if self._timer is None:
            self._timer = self.loop.call_later(self.interval, self.sweep)

    def discard(self, connection: BadgeHttpProtocol) -> None:
        self.connections.discard(connection)

    def sweep(self) -> None:
        now = _monotonic()
        # A copy: closing a transport may drop its connection from the set.
        for connection in tuple(self.connections):
            connection.check_deadline(now)
        self._timer = self.loop.call_later(self.interval, self.sweep) if self.connections else None


_sweepers: dict[asyncio.AbstractEventLoop, Sweeper] = {}


def sweeper_for(
    loop: asyncio.AbstractEventLoop, header_timeout: float, body_timeout: float
) -> Sweeper:
    found = _sweepers.get(loop)
    if found is None:
        # Once a second; more often only when a timeout is shorter than two sweeps.
        interval = min(SWEEP_SECONDS, header_timeout / 2, body_timeout / 2)
        found = _sweepers[loop] = Sweeper(loop, interval)
    return found


class BadgeHttpProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout, self.body_timeout = _timeouts()
        self.sweeper = sweeper_for(self.loop, self.header_timeout, self.body_timeout)
        # What the connection waits for, as (request cycle, waiting for headers), and since
        # when. The cycle is uvicorn's, made anew for each request: None before the first.
        self._waiting: tuple[object, bool] | None = None
        self._waiting_since = 0.0
        # The proxy headers would only change who the access log names: with both on, the
        # ASGI way, whose middleware reads them. A root path changes every path: likewise.
        config = self.config
        plain = not (self.access_log and config.proxy_headers) and not config.root_path
        self._answers = raw_answers(self.app) if plain else None
        self._defaults: object = None
        self._date = b""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._waiting, self._waiting_since = (None, True), _monotonic()
        self.sweeper.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.sweeper.discard(self)
        super().connection_lost(exc)

    def check_deadline(self, now: float) -> None:
        """The sweep's look at this connection: closed when its client is too slow."""
        transport = self.transport
        if transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            if self.timeout_keep_alive_task is not None:
                # Idle between requests, no byte of the next one yet: uvicorn's keep-alive
                # timeout closes it.
                self._waiting = None
                return
            headers, limit = True, self.header_timeout
        elif cycle.more_body:
            headers, limit = False, self.body_timeout
        else:
            # The application has the whole request: no client deadline.
            self._waiting = None
            return
        waiting = (cycle, headers)
        if self._waiting != waiting:
            self._waiting, self._waiting_since = waiting, now
        elif now - self._waiting_since >= limit:
            if headers:
                # No application has this request yet: answer for it.
                transport.write(_TIMEOUT_408)
            transport.close()

    def on_headers_complete(self) -> None:
        answers = self._answers
        cycle = self.cycle
        parser = self.parser
        limit = self.limit_concurrency
        if (
            answers is not None
            and (cycle is None or cycle.response_complete)
            and not self.expect_100_continue
            and not self.flow.write_paused
            and parser.should_keep_alive()
            and parser.get_http_version() == "1.1"
            and not parser.should_upgrade()
            and (limit is None or (len(self.connections) < limit and len(self.tasks) < limit))
        ):
            method = parser.get_method().decode("ascii")
            if self._defaults is not self.server_state.default_headers:
                self._defaults = defaults = self.server_state.default_headers
                self._date = b"".join(n.lower() + b": " + v + b"\r\n" for n, v in defaults)
            url = self.url
            try:
                status = answers.answer(
                    method, url, self.headers, self.app_state, self.transport.write, self._date
                )
            except Exception:
                # Writing is a raw answer's last step: nothing went out, and the ASGI way
                # answers (with uvicorn's 500 if it fails there too).
                self.logger.exception("Exception in a raw answer; answering the ASGI way")
                status = 0
            if status:
                self._answered(method, url, status)
                return
        if self.timeout_keep_alive_task is not None:
            # Armed by a raw answer earlier in the same read: this request is not idle time.
            self._unset_keepalive_if_required()
        # uvicorn's own start of a request, which makes the ASGI scope, with what the parser
        # has collected since (on_message_begin below).
        url, headers, expect = self.url, self.headers, self.expect_100_continue
        super().on_message_begin()
        self.url, self.headers, self.expect_100_continue = url, headers, expect
        self.scope["headers"] = headers
        super().on_headers_complete()

    def on_message_begin(self) -> None:
        # The scope (a dict and a copy of the app's state) is made only for a request that
        # goes the ASGI way: in on_headers_complete, once a raw answer is ruled out.
        self.url = b""
        self.expect_100_continue = False
        self.headers = []

    def _answered(self, method: str, url: bytes, status: int) -> None:
        """What uvicorn does when a response completes, for a raw answer."""
        self.server_state.total_requests += 1
        # A new wait starts with the next request, as it does with each request cycle.
        self._waiting = None
        if self.access_log:
            path, _, query = url.partition(b"?")
            scope = {"client": self.client, "raw_path": path, "query_string": query}
            self.access_logger.info(
                '%s - "%s %s HTTP/%s" %d',
                get_client_addr(scope),  # type: ignore[arg-type]
                method,
                get_path_with_query_string(scope),  # type: ignore[arg-type]
                "1.1",
                status,
            )
        self._unset_keepalive_if_required()
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def on_message_complete(self) -> None:
        # None only when the connection's requests so far all had raw answers (no body).
        if self.cycle is not None:
            super().on_message_complete()

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        if app is service_unavailable:
            app = overloaded
        super()._start_asgi_task(cycle, app)
