"""badge.serving.entries: a shop's live state as an Entry, loaded from the registry and
signed; what is made from it changes only through the Entry's own methods."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from badge.registry.sqlite import SQLiteRegistry
from badge.serving import binding
from badge.serving.entries import UNKNOWN, EntryLoader
from badge.serving.responses import build_response
from badge.settings import Settings
from badge.signing import KeyStore
from tests.conftest import add_shop


@pytest.fixture
def keys(tmp_path: Path, settings: Settings) -> KeyStore:
    store = KeyStore(tmp_path / "entry-keys", token_ttl=settings.token_ttl)
    store.ensure()
    return store


@pytest.fixture
def loader(settings: Settings, registry: SQLiteRegistry, keys: KeyStore) -> EntryLoader:
    return EntryLoader(settings, registry, keys, None, lambda: 500.0)


def test_a_loaded_shop_is_signed_once_with_its_live_state(
    loader: EntryLoader, registry: SQLiteRegistry, keys: KeyStore
) -> None:
    shop = add_shop(registry, domains=("bakkerij-test.be",))
    entry = anyio.run(loader.fetch, shop.id, None)
    assert entry.shop == shop and entry.state == "certified" and entry.certified
    assert entry.domains == frozenset({"bakkerij-test.be"})
    assert entry.kid == keys.signing_kid
    assert entry.token is not None
    claims, reason = keys.verify(entry.token)
    assert claims is not None, reason
    assert (claims["sub"], claims["state"]) == (shop.id, "certified")
    assert entry.refresh_at > 500.0
    assert loader.stats().signatures == 1 and loader.stats().registry_loads == 1


def test_an_unknown_id_is_the_shared_unknown_entry(loader: EntryLoader) -> None:
    assert anyio.run(loader.fetch, "aaaaaaaaaaaaaaaa", None) is UNKNOWN
    assert loader.stats().signatures == 0


def test_an_unchanged_shop_keeps_its_token_and_what_was_made(
    loader: EntryLoader, registry: SQLiteRegistry
) -> None:
    shop = add_shop(registry)
    first = loader.entry_for(shop)
    key = (shop.id, "svg", "nl", "m", 1, binding.LOOKUP)
    first.add_variant(key, build_response(200, b"<svg/>", "svg", b"no-store"))  # type: ignore[arg-type]
    signed = loader.stats().signatures
    again = loader.entry_for(shop, first)
    assert again is not first
    assert again.token == first.token
    assert again.variants == first.variants and key in again.variants
    assert loader.stats().signatures == signed  # nothing re-signed


def test_a_changed_shop_is_signed_anew_and_starts_empty(
    loader: EntryLoader, registry: SQLiteRegistry
) -> None:
    shop = add_shop(registry)
    first = loader.entry_for(shop)
    first.add_token(binding.LOOKUP, "old")
    registry.set_state(shop.id, "suspended", reason="audit", actor="test")
    changed = registry.get_shop(shop.id)
    assert changed is not None
    after = loader.entry_for(changed, first)
    assert after.token != first.token and after.state == "suspended"
    assert dict(after.tokens) == {} and dict(after.variants) == {}


def test_each_site_class_is_signed_once_and_says_what_it_shows(
    loader: EntryLoader, registry: SQLiteRegistry, keys: KeyStore, settings: Settings
) -> None:
    shop = add_shop(registry, domains=("bakkerij-test.be",))
    entry = loader.entry_for(shop)
    signed = loader.stats().signatures
    own = loader.variant_token(entry, "bakkerij-test.be")
    assert loader.variant_token(entry, "bakkerij-test.be") == own
    lookup = loader.variant_token(entry, binding.LOOKUP)
    assert loader.stats().signatures == signed + 2
    assert entry.tokens == {"bakkerij-test.be": own, binding.LOOKUP: lookup}
    own_claims, _ = keys.verify(own)
    lookup_claims, _ = keys.verify(lookup)
    assert own_claims is not None and lookup_claims is not None
    assert (own_claims["variant"], own_claims["site"]) == ("certified", "bakkerij-test.be")
    assert lookup_claims["variant"] == "neutral"


def test_what_was_made_is_read_only_outside_the_entry(
    loader: EntryLoader, registry: SQLiteRegistry
) -> None:
    entry = loader.entry_for(add_shop(registry))
    with pytest.raises(TypeError):
        entry.variants["x"] = None  # type: ignore[index]
    with pytest.raises(TypeError):
        entry.tokens["x"] = "y"  # type: ignore[index]
    start = {"type": "http.response.start", "status": 200, "headers": []}
    body = {"type": "http.response.body", "body": b""}
    assert entry.add_prepared("a", (start, body, None), limit=2)
    assert entry.add_prepared("b", (start, body, None), limit=2)
    assert not entry.add_prepared("c", (start, body, None), limit=2)
    assert set(entry.prepared) == {"a", "b"}
