"""Instances publish their public keys in a real Redis; the JWKS serves the union."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from badge.platform.bus import SharedCache, make_client
from badge.platform.keyshare import FORGET_AFTER, KEYS_HASH, KeyShare
from badge.settings import Secret, Settings
from badge.signing import KeyStore
from tests.servers import RedisServer

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


def store(path: Path) -> KeyStore:
    keys = KeyStore(path, token_ttl=3600)
    keys.ensure()
    return keys


def test_an_instance_with_other_keys_warns_and_everyone_serves_the_union(
    tmp_path: Path, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(redis_url=Secret(redis_server.url))
    shared_dir, stray_dir = tmp_path / "shared", tmp_path / "stray"
    first, second, stray = store(shared_dir), store(shared_dir), store(stray_dir)
    token = stray.sign({"sub": "x"})

    async def main() -> list[str]:
        client = make_client(settings)
        try:
            cache = SharedCache(settings, client)
            shares = [KeyShare(cache, keys) for keys in (first, second, stray)]
            warnings = []
            for share in shares:
                caplog.clear()
                await share.start()
                warnings.append(caplog.text)
            await shares[0].round()  # the first instance learns of the others
            # Garbage in the hash is ignored, and entries gone for long are dropped.
            await client.hset(KEYS_HASH, "junk", "not json")
            old = json.dumps({"at": time.time() - FORGET_AFTER - 1, "keys": []})
            await client.hset(KEYS_HASH, "gone", old)
            await shares[1].round()
            remaining = await client.hkeys(KEYS_HASH)
            return [*warnings, str(sorted(remaining))]
        finally:
            await client.aclose()

    with caplog.at_level(logging.WARNING, logger="badge.keys"):
        first_log, second_log, stray_log, remaining = anyio.run(main)
    assert first_log == "" and second_log == ""
    assert "KEYS DISAGREE" in stray_log and stray.signing_kid in stray_log
    assert "junk" not in remaining and "gone" not in remaining
    union = {first.signing_kid, stray.signing_kid}
    for keys in (first, second, stray):
        assert {key["kid"] for key in keys.jwks()["keys"]} == union
    # A badge signed by the stray instance verifies on the others.
    claims, reason = first.verify(token)
    assert claims == {"sub": "x"}, reason


def test_a_published_key_must_match_its_thumbprint(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    settings = Settings(redis_url=Secret(redis_server.url))
    keys, other = store(tmp_path / "a"), store(tmp_path / "b")
    record = other.records[0]

    async def main() -> None:
        client = make_client(settings)
        try:
            forged = {
                "at": time.time(),
                "keys": [{"kid": "forged-kid", "x": record.x}, {"kid": record.kid, "x": "AAAA"}],
            }
            await client.hset(KEYS_HASH, "forger", json.dumps(forged))
            await KeyShare(SharedCache(settings, client), keys).round()
        finally:
            await client.aclose()

    anyio.run(main)
    # Neither entry's kid is the thumbprint of its key: both ignored.
    assert keys.jwks()["keys"] == [keys.records[0].jwk()]
    assert keys.verify(other.sign({"sub": "x"}))[0] is None
