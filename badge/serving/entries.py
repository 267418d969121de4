"""Loading and signing: a shop's live state as an `Entry`, from Redis or the registry.

An entry holds the shop, its public state, the claims every variant's signature shares,
and the variants rendered from it so far. Caching and freshness are freshness.py's job;
what a variant says is variants.py's; drawing it is drawing.py's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Final
from urllib.parse import urlsplit

import anyio
from starlette.types import Message

from badge.platform.bus import SharedCache, Snapshot
from badge.platform.timeutil import seconds_to_midnight, today
from badge.registry.base import Registry
from badge.registry.model import Shop
from badge.serving import binding
from badge.serving.responses import Rendered
from badge.serving.variants import SitePolicy, VariantKey, certifying_sites
from badge.settings import Settings
from badge.signing import KeyStore
from badge.vocabulary import PublicState

# A page or API document as sent: its ASGI start and body, and the status line and header
# block the protocol writes for it (badge.platform.server.wire_head), None when it cannot.
PreparedResponse = tuple[Message, Message, tuple[bytes, bytes] | None]

REGISTRY_TIMEOUT: Final = 2.0


@dataclass(slots=True)
class Entry:
    """What this process knows of one shop, and what was made from it so far.

    The made things (variants, tokens per site class, prepared pages) are read through
    read-only views and change only through the methods below.
    """

    shop: Shop | None
    state: PublicState
    token: str | None
    refresh_at: float
    token_exp: float = 0.0
    domains: frozenset[str] = frozenset()
    # The domains whose pages get the certified badge (variants.certifying_sites).
    sites: frozenset[str] = frozenset()
    kid: str = ""
    certified: bool = False
    # The claims every variant's signature shares; each site class adds what it shows.
    claims: dict[str, object] = field(default_factory=dict)
    variants: Mapping[VariantKey, Rendered] = field(init=False, repr=False)
    tokens: Mapping[str, str] = field(init=False, repr=False)
    # Pages and API documents about this shop, as sent (badge.serving.prepared); they go with it.
    prepared: Mapping[object, PreparedResponse] = field(init=False, repr=False)
    _variants: dict[VariantKey, Rendered] = field(init=False, repr=False, default_factory=dict)
    _tokens: dict[str, str] = field(init=False, repr=False, default_factory=dict)
    _prepared: dict[object, PreparedResponse] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._views()

    def _views(self) -> None:
        self.variants = MappingProxyType(self._variants)
        self.tokens = MappingProxyType(self._tokens)
        self.prepared = MappingProxyType(self._prepared)

    def add_variant(self, key: VariantKey, rendered: Rendered) -> None:
        self._variants[key] = rendered

    def add_token(self, site: str, token: str) -> None:
        self._tokens[site] = token

    def add_prepared(self, key: object, response: PreparedResponse, limit: int) -> bool:
        """Keeps a prepared response unless the shop already has `limit` of them."""
        if len(self._prepared) >= limit:
            return False
        self._prepared[key] = response
        return True

    def inherit(self, previous: Entry) -> None:
        """An unchanged predecessor (same token): what was made from it stays valid."""
        self._variants, self._tokens = previous._variants, previous._tokens
        self._prepared = previous._prepared
        self._views()


# An unknown id: no shop, nothing to sign, never due for a refresh of its own.
UNKNOWN: Final = Entry(shop=None, state="unknown", token=None, refresh_at=float("inf"))


@dataclass(frozen=True, slots=True)
class LoaderStats:
    signatures: int
    registry_loads: int
    # Shops found in Redis on a memory miss.
    shared_hits: int


class EntryLoader:
    """Reads a shop (Redis snapshot first, when configured, then the registry) and signs it."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        keys: KeyStore,
        shared: SharedCache | None,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.keys = keys
        self.shared = shared
        self.clock = clock
        # Our own pages (the embed preview, /v) count as the shop's own site.
        self.own_host = urlsplit(settings.public_url).hostname or "localhost"
        self.site_policy = SitePolicy(
            before_proofs=settings.domains_before_proofs_certify,
            grace=timedelta(seconds=settings.domain_lost_grace),
        )
        self._shared_hits = 0
        self._registry_loads = 0
        self._signatures = 0

    def stats(self) -> LoaderStats:
        return LoaderStats(self._signatures, self._registry_loads, self._shared_hits)

    async def fetch(self, shop_id: str, previous: Entry | None) -> Entry:
        """`previous`: the entry an invalidation dropped, reused when nothing changed."""
        shared = self.shared
        generation = b"0"
        if shared is not None:
            snapshot = await shared.get(shop_id)
            if snapshot is not None:
                entry = self.from_snapshot(snapshot, previous)
                if entry is not None:
                    self._shared_hits += 1
                    return entry
            generation = await shared.generation(shop_id)
        with anyio.fail_after(REGISTRY_TIMEOUT):
            # Abandon a stuck call: without it the timeout only fires once the thread returns.
            shop = await anyio.to_thread.run_sync(
                self.registry.get_shop, shop_id, abandon_on_cancel=True
            )
        self._registry_loads += 1
        entry = self.entry_for(shop, previous)
        if shared is not None:
            snapshot = Snapshot(shop=shop, token=entry.token, token_exp=entry.token_exp)
            await shared.put(shop_id, generation, snapshot)
        return entry

    def from_snapshot(self, snapshot: Snapshot, previous: Entry | None) -> Entry | None:
        """Reuse another instance's token, so every instance serves the same bytes and ETag."""
        if snapshot.shop is None:
            return UNKNOWN
        remaining = snapshot.token_exp - time.time()
        state = snapshot.shop.public_state(today())
        if snapshot.token is None or remaining <= self.settings.token_ttl / 2:
            return None
        if previous is not None and previous.token == snapshot.token:
            return self._keep(previous, snapshot.shop, state)
        claims, _ = self.keys.verify(snapshot.token)
        if claims is None or claims.get("state") != state:
            return None
        return self.make_entry(snapshot.shop, state, snapshot.token, claims)

    def entry_for(self, shop: Shop | None, previous: Entry | None = None) -> Entry:
        if shop is None:
            return UNKNOWN
        state = shop.public_state(today())
        if (
            previous is not None
            and previous.shop == shop
            and previous.state == state
            and previous.kid == self.keys.signing_kid
            and previous.token is not None
            and previous.token_exp - time.time() > self.settings.token_ttl / 2
        ):
            # Nothing changed (a resubscribe, or another field's event): keep the bytes and
            # the ETag, so browsers and CDNs keep getting 304s.
            return self._keep(previous, shop, state)
        claims = self.claims(shop, state)
        self._signatures += 1
        token = self.keys.sign(claims)
        return self.make_entry(shop, state, token, claims)

    def _keep(self, previous: Entry, shop: Shop, state: PublicState) -> Entry:
        assert previous.token is not None
        entry = self.make_entry(shop, state, previous.token, previous.claims)
        entry.inherit(previous)
        return entry

    def make_entry(
        self, shop: Shop, state: PublicState, token: str, claims: dict[str, object]
    ) -> Entry:
        exp = claims.get("exp")
        token_exp = float(exp) if isinstance(exp, int | float) else 0.0
        # Re-sign at half the token's life so an embedded badge never carries an expired one,
        # and re-derive at Belgian midnight, when `valid_until` may have passed.
        until_half_life = token_exp - time.time() - self.settings.token_ttl / 2
        refresh_in = max(1.0, min(until_half_life, seconds_to_midnight()))
        now = datetime.now(UTC)
        sites, sites_change = certifying_sites(shop, now, self.site_policy)
        if sites_change is not None:
            # A lost proof's grace ends: the entry is worked out again then, not per request.
            refresh_in = min(refresh_in, max(0.05, (sites_change - now).total_seconds()))
        return Entry(
            shop=shop,
            state=state,
            token=token,
            token_exp=token_exp,
            refresh_at=self.clock() + refresh_in,
            domains=frozenset(shop.domains),
            sites=sites,
            kid=self.keys.signing_kid,
            certified=state == "certified",
            claims=claims,
        )

    def claims(self, shop: Shop, state: PublicState) -> dict[str, object]:
        issued = int(time.time())
        return {
            "iss": self.settings.public_url,
            "sub": shop.id,
            "name": shop.display_name,
            "domains": list(shop.domains),
            "state": state,
            "iat": issued,
            "exp": issued + self.settings.token_ttl,
        }

    def variant_token(self, entry: Entry, site: str) -> str:
        """The signature baked into one site class's variants: the shared claims plus what
        the variant shows. Ed25519 is deterministic, so every instance holding the same
        shared claims (through Redis) signs the same bytes and serves the same ETag."""
        token = entry.tokens.get(site)
        if token is None:
            claims = {**entry.claims, **binding.variant_claims(site, self.own_host)}
            self._signatures += 1
            token = self.keys.sign(claims)
            entry.add_token(site, token)
        return token
