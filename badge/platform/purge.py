"""Edge purges: every state change drops the shop's cached responses at each edge cache.

Every badge and page about a shop carries its surrogate key (`shop-<id>`) and the key of
everything (`keurmerk`), under the three header names CDNs read: `xkey` (Varnish with
varnish-modules), `Surrogate-Key` (Fastly) and `Cache-Tag` (Cloudflare).

Each instance purges what it invalidates, after dropping its own copy: a change made
anywhere (admin API, CLI, another instance) reaches every instance through Redis or the
registry's change feed, so it is purged once per instance, never zero times, and the last
purge comes after the last instance stopped serving the old state. A purge never blocks
the change: it is queued here and sent by one background worker per edge, with a bounded
number of attempts.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPSConnection
from typing import Final
from urllib.parse import unquote, urlsplit

import anyio

from badge.settings import redact_url

logger = logging.getLogger("badge.purge")

ALL_KEY: Final = "keurmerk"
MAX_KEYS_PER_REQUEST: Final = 200
# Past this many queued keys (a mass import while an edge is down), purge everything instead.
MAX_PENDING: Final = 10_000


def surrogate_key(shop_id: str) -> str:
    return f"shop-{shop_id}"


def surrogate_headers(shop_id: str | None) -> tuple[tuple[bytes, bytes], ...]:
    """Headers tagging a response about `shop_id` (None: about no shop in particular)."""
    keys = [ALL_KEY] if shop_id is None else [surrogate_key(shop_id), ALL_KEY]
    spaced = " ".join(keys).encode("ascii")
    return (
        (b"xkey", spaced),
        (b"surrogate-key", spaced),
        (b"cache-tag", ",".join(keys).encode("ascii")),
    )


def surrogate_header_dict(shop_id: str | None) -> dict[str, str]:
    return {name.decode(): value.decode() for name, value in surrogate_headers(shop_id)}


def send_purge(url: str, keys: Iterable[str], timeout: float) -> int:
    """One `PURGE` request naming the keys; returns the HTTP status. Blocking (run in a thread).

    Varnish's VCL (deploy/varnish/default.vcl) reads `xkey-purge`; `Surrogate-Key` is sent
    as well for relays that expect Fastly's name.
    """
    parts = urlsplit(url)
    connection_class = HTTPSConnection if parts.scheme == "https" else HTTPConnection
    connection = connection_class(parts.hostname or "localhost", parts.port, timeout=timeout)
    spaced = " ".join(keys)
    headers = {"xkey-purge": spaced, "surrogate-key": spaced, "content-length": "0"}
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers["authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        connection.request("PURGE", path, headers=headers)
        response = connection.getresponse()
        response.read(65536)
        return response.status
    finally:
        connection.close()


@dataclass(slots=True)
class Edge:
    url: str
    shown: str
    pending: set[str] = field(default_factory=set)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    # Results by outcome: "ok", "failed" (gave up after every attempt), "retried".
    counts: Counter[str] = field(default_factory=Counter)
    last_ok: float = 0.0


class EdgePurger:
    def __init__(
        self,
        urls: Iterable[str],
        *,
        attempts: int = 5,
        timeout: float = 2.0,
        first_backoff: float = 0.2,
    ) -> None:
        self.edges = [Edge(url=url, shown=redact_url(url)) for url in urls]
        self.attempts = attempts
        self.timeout = timeout
        self.first_backoff = first_backoff

    def purge(self, shop_id: str) -> None:
        """Queue a purge of one shop at every edge; returns at once."""
        self.queue(surrogate_key(shop_id))

    def queue(self, key: str) -> None:
        for edge in self.edges:
            if len(edge.pending) >= MAX_PENDING:
                edge.pending = {ALL_KEY}
            edge.pending.add(key)
            edge.wake.set()

    def pending(self) -> int:
        return sum(len(edge.pending) for edge in self.edges)

    async def run(self) -> None:
        """The workers, one per edge, for the lifespan's task group."""
        if not self.edges:
            return
        async with anyio.create_task_group() as tasks:
            for edge in self.edges:
                tasks.start_soon(self._work, edge)

    async def _work(self, edge: Edge) -> None:
        while True:
            await edge.wake.wait()
            edge.wake.clear()
            while edge.pending:
                keys = sorted(edge.pending)[:MAX_KEYS_PER_REQUEST]
                edge.pending.difference_update(keys)
                await self._send(edge, keys)

    async def _send(self, edge: Edge, keys: list[str]) -> None:
        backoff = self.first_backoff
        started = time.monotonic()
        problem = ""
        for attempt in range(1, self.attempts + 1):
            try:
                status = await anyio.to_thread.run_sync(
                    send_purge, edge.url, keys, self.timeout, abandon_on_cancel=True
                )
                if 200 <= status < 300:
                    edge.counts["ok"] += 1
                    edge.last_ok = time.time()
                    logger.info(
                        "purged %s at %s in %.0f ms",
                        " ".join(keys[:5]) + (" …" if len(keys) > 5 else ""),
                        edge.shown,
                        (time.monotonic() - started) * 1000,
                    )
                    return
                problem = f"HTTP {status}"
            except OSError as exc:
                problem = type(exc).__name__
            if attempt < self.attempts:
                edge.counts["retried"] += 1
                logger.debug("purge at %s failed (%s); retrying", edge.shown, problem)
                await anyio.sleep(backoff)
                backoff *= 2
        edge.counts["failed"] += 1
        logger.error(
            "could not purge %d key(s) at %s after %d attempts (%s); "
            "the edge serves them until BADGE_EDGE_MAX_AGE runs out",
            len(keys),
            edge.shown,
            self.attempts,
            problem,
        )


def purge_now(urls: Iterable[str], shop_ids: Iterable[str], *, attempts: int = 2) -> list[str]:
    """For the CLI: purge the shops at every edge right away, blocking, bounded.

    Returns the edges (redacted) that could not be purged.
    """
    keys = sorted({surrogate_key(shop_id) for shop_id in shop_ids})
    if len(keys) > MAX_PENDING:
        keys = [ALL_KEY]
    batches = [
        keys[i : i + MAX_KEYS_PER_REQUEST] for i in range(0, len(keys), MAX_KEYS_PER_REQUEST)
    ]
    failed: list[str] = []
    for url in urls:
        if not all(_purge_batch(url, batch, attempts) for batch in batches):
            failed.append(redact_url(url))
    return failed


def _purge_batch(url: str, keys: list[str], attempts: int) -> bool:
    for attempt in range(attempts):
        try:
            if 200 <= send_purge(url, keys, timeout=1.0) < 300:
                return True
        except OSError:
            pass
        if attempt + 1 < attempts:
            time.sleep(0.2)
    return False
