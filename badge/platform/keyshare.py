"""Instances sharing Redis publish their public keys there, and serve the union as the JWKS.

Every instance should sign with the same keys (one keys directory on a shared volume or
secret). When one does not, its badges must still verify wherever they are checked, and
ops must hear about it: an instance whose signing key the others do not publish says so
loudly at start.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any, Final

import anyio

from badge.platform.bus import SharedCache
from badge.signing import KeyRecord, KeyStore, b64url_decode, thumbprint

logger = logging.getLogger("badge.keys")

KEYS_HASH: Final = "badge:jwks"
PUBLISH_EVERY: Final = 15.0
# An instance that has not republished for this long is gone (or cut off from Redis).
FRESH_FOR: Final = 60.0
FORGET_AFTER: Final = 3600.0


class KeyShare:
    def __init__(self, shared: SharedCache, keys: KeyStore) -> None:
        self.shared = shared
        self.keys = keys
        self.instance = secrets.token_hex(8)
        self.others: dict[str, dict[str, Any]] = {}

    def _own(self, now: float) -> str:
        return json.dumps(
            {
                "at": now,
                "signing": self.keys.signing_kid,
                "keys": [{"kid": r.kid, "x": r.x} for r in self.keys.published(now)],
            }
        )

    async def round(self) -> bool:
        """Publish ours, read theirs, serve the union. False when Redis did not answer."""
        client = self.shared.client
        now = time.time()
        await self.shared._call(lambda: client.hset(KEYS_HASH, self.instance, self._own(now)))
        raw = await self.shared._call(lambda: client.hgetall(KEYS_HASH))
        if raw is None:
            return False
        others: dict[str, dict[str, Any]] = {}
        stale: list[bytes | str] = []
        for name, value in raw.items():
            instance = name.decode() if isinstance(name, bytes) else str(name)
            if instance == self.instance:
                continue
            try:
                data = json.loads(value)
                age = now - float(data["at"])
            except (ValueError, KeyError, TypeError):
                stale.append(name)
                continue
            if age > FORGET_AFTER:
                stale.append(name)
            elif age <= FRESH_FOR:
                others[instance] = data
        if stale:
            await self.shared._call(lambda: client.hdel(KEYS_HASH, *stale))
        self.others = others
        self.keys.set_external(_records(others.values()))
        return True

    def disagreement(self) -> str | None:
        """Why this instance's badges differ from the others', or None when they agree."""
        if not self.others:
            return None
        theirs = {key.get("kid") for data in self.others.values() for key in data.get("keys", [])}
        mine = self.keys.signing_kid
        if mine in theirs:
            return None
        return (
            f"this instance signs with key {mine}, which the {len(self.others)} other "
            "instance(s) sharing Redis do not publish: give every instance the same "
            "BADGE_KEYS_DIR (a shared volume or secret). Its badges verify only through the "
            "union of keys the instances publish in Redis."
        )

    async def start(self) -> None:
        if await self.round():
            problem = self.disagreement()
            if problem is not None:
                logger.critical("KEYS DISAGREE: %s", problem)

    def _published_kids(self) -> tuple[str, ...]:
        return (self.keys.signing_kid, *(r.kid for r in self.keys.published()))

    async def run(self) -> None:
        """Republish every PUBLISH_EVERY seconds, and within a second of a key rotation (so an
        instance starting just after one sees the new key). Warns once per disagreement, when
        two rounds in a row see it: during a rotation, instances differ for a moment."""
        warned = self.disagreement()
        seen: str | None = None
        published = self._published_kids()
        last = time.monotonic()
        while True:
            await anyio.sleep(1.0)
            current = self._published_kids()
            if current == published and time.monotonic() - last < PUBLISH_EVERY:
                continue
            published, last = current, time.monotonic()
            if not await self.round():
                continue
            problem = self.disagreement()
            if problem is not None and problem == seen and problem != warned:
                logger.critical("KEYS DISAGREE: %s", problem)
                warned = problem
            elif problem is None:
                warned = None
            seen = problem


def _records(entries: Any) -> list[KeyRecord]:
    """Public keys published by other instances; anything malformed is ignored."""
    found: dict[str, KeyRecord] = {}
    for data in entries:
        for key in data.get("keys", []) if isinstance(data, dict) else []:
            try:
                kid, x = str(key["kid"]), str(key["x"])
                if len(b64url_decode(x)) != 32 or thumbprint(x) != kid:
                    continue
            except (ValueError, KeyError, TypeError):
                continue
            found[kid] = KeyRecord(kid=kid, x=x, created_at=0, retired_at=None)
    return list(found.values())
