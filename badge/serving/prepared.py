"""Prepared responses: `/v/{id}` and `/api/v1/shops/{id}` answered from bytes kept per shop.

Both say what the shop's live state says, in the visitor's language and for the page they
came from. The first request for a combination goes through the app as usual; its
response is kept with the shop's cache entry (service.py), so a change of the shop drops it
with everything else, and a warm request is a dict lookup and one `send`, like a badge.

The key holds every request header the response may depend on, raw: the path and query,
Host, Accept-Language, Accept-Encoding and Referer. A response is kept only when its Vary
names no other header, so a page that starts to depend on something else is simply not
kept. Pages for a foreign Referer (anyone's to vary) go through the app every time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from badge.platform.server import wire_head
from badge.registry.rules import ID_LENGTH
from badge.serving import binding
from badge.serving.entries import PreparedResponse
from badge.serving.service import BadgeService
from badge.web.routes import prepared_prefixes

# The route table's paths that prepared bytes may answer (badge/web/routes.py).
PREFIXES: Final = prepared_prefixes()
_monotonic = time.monotonic
# The same, as their templates in the route table: the labels of their latency metrics.
TEMPLATES: Final = tuple((prefix, prefix + "{shop_id}") for prefix in PREFIXES)
# Headers longer than this are never part of a key: such a request takes the app's path.
MAX_KEY_HEADER: Final = 256
MAX_PREPARED_PER_SHOP: Final = 64
_KEYED: Final = frozenset({b"accept-language", b"accept-encoding", b"referer", b"host"})
_VARY_OK: Final = frozenset({"accept-language", "accept-encoding", "referer"})
_EMPTY_BODY: Final[Message] = {"type": "http.response.body", "body": b""}

PreparedKey = tuple[str, bytes, bytes | None, bytes | None, bytes | None, bytes | None]


def shop_id_of(path: str) -> str | None:
    """The shop id of a path this module answers, or None."""
    for prefix in PREFIXES:
        if path.startswith(prefix):
            shop_id = path[len(prefix) :]
            return shop_id if len(shop_id) == ID_LENGTH and "/" not in shop_id else None
    return None


# (route template, variant, status, seconds): HotPathStats.observe.
Observe = Callable[[str, str, int, float], None]


class PreparedResponses:
    def __init__(self, app: ASGIApp, observe: Observe) -> None:
        self.app = app
        self.hits = 0
        # Prepared answers are timed here; the others by the app's route timer.
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send, shop_id: str) -> None:
        started = _monotonic()
        service: BadgeService = scope["state"]["badges"]
        path: str = scope["path"]
        key = _key(path, scope["query_string"], scope["headers"])
        entry = service.entries.fresh(shop_id)
        prepared = None if entry is None or key is None else entry.prepared.get(key)
        if prepared is not None:
            self.hits += 1
            await send(prepared[0])
            await send(_EMPTY_BODY if scope["method"] == "HEAD" else prepared[1])
            self.observe_path(path, started)
            return
        if key is None or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        captured: list[Message] = []

        async def capture(message: Message) -> None:
            captured.append(message)
            await send(message)

        generation = service.entries.stats().generation
        await self.app(scope, receive, capture)
        # The entry the response was made from (loaded by this request, perhaps), and
        # nothing invalidated meanwhile: otherwise it may describe an older state.
        after = service.entries.fresh(shop_id)
        if (
            after is None
            or service.entries.stats().generation != generation
            or (entry is not None and after is not entry)
            or not _keepable_referer(key[5], after.domains, service)
        ):
            return
        kept = _keepable(captured)
        if kept is not None:
            after.add_prepared(key, kept, MAX_PREPARED_PER_SHOP)

    def kept(
        self, path: str, query: bytes, headers: list[tuple[bytes, bytes]], service: BadgeService
    ) -> tuple[tuple[bytes, bytes], bytes] | None:
        """For an answer at the protocol (the hot path's `answer`): the status line and
        header block (badge.platform.server.wire_head) and body kept for this GET or HEAD,
        counted as a hit; None when there is none."""
        shop_id = shop_id_of(path)
        if shop_id is None:
            return None
        key = _key(path, query, headers)
        entry = service.entries.fresh(shop_id)
        prepared = None if entry is None or key is None else entry.prepared.get(key)
        if prepared is None or prepared[2] is None:
            return None
        self.hits += 1
        body: bytes = prepared[1]["body"]
        return prepared[2], body

    def observe_path(self, path: str, started: float) -> None:
        """The latency of a prepared answer, under its route's template."""
        for prefix, template in TEMPLATES:
            if path.startswith(prefix):
                self.observe(template, "-", 200, _monotonic() - started)
                return


def _key(path: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> PreparedKey | None:
    found: dict[bytes, bytes] = {}
    for name, value in headers:
        if name in _KEYED:
            if len(value) > MAX_KEY_HEADER or name in found:
                return None
            found[name] = value
        elif name == b"if-none-match" or name == b"cookie" or name == b"authorization":
            return None
    return (
        path,
        query,
        found.get(b"host"),
        found.get(b"accept-language"),
        found.get(b"accept-encoding"),
        found.get(b"referer"),
    )


def _keepable_referer(
    referer: bytes | None, domains: frozenset[str], service: BadgeService
) -> bool:
    """No Referer, our own pages, or one of the shop's registered domains."""
    if referer is None:
        return True
    referer_class, _ = binding.classify_referer(referer, service.own_netlocs)
    return referer_class == binding.OWN or referer_class in domains


def _keepable(messages: list[Message]) -> PreparedResponse | None:
    """A complete 200 in one body message whose Vary names only headers in the key."""
    if len(messages) != 2:
        return None
    start, body = messages
    if start["type"] != "http.response.start" or start["status"] != 200:
        return None
    if body["type"] != "http.response.body" or body.get("more_body", False):
        return None
    for name, value in start.get("headers", ()):
        lower = name.lower()
        if lower == b"set-cookie":
            return None
        if lower == b"vary":
            named = {part.strip().lower() for part in value.decode("latin-1").split(",")}
            if not named <= _VARY_OK:
                return None
    headers = tuple(start["headers"])
    start = {"type": "http.response.start", "status": 200, "headers": list(headers)}
    kept = bytes(body.get("body", b""))
    return start, {"type": "http.response.body", "body": kept}, wire_head(200, headers)
