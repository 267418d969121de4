"""Finding shops for consumers: by id, domain or name, their public facts, and the referrer.

Shared by the HTML pages and the JSON API, so both always say the same thing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Final, Literal, TypeVar
from urllib.parse import urlsplit

import anyio

from badge.errors import BadgeError, Unavailable
from badge.platform.caches import BoundedCache, CacheSet
from badge.platform.timeutil import BRUSSELS, today
from badge.registry import rules
from badge.registry.model import Event, Shop
from badge.registry.unreachable import UNREACHABLE_ERRORS
from badge.serving.service import Entry
from badge.state import AppServices
from badge.vocabulary import CATEGORY_COLOURS, PublicState

REGISTRY_TIMEOUT: Final = 2.0
MAX_SEARCH_RESULTS: Final = 20
HISTORY_CACHE_SIZE: Final = 2048
MAX_REFERER_CHARS: Final = 2048
UNREACHABLE: Final = "the Keurmerk register cannot be reached; try again shortly"
T = TypeVar("T")


async def live_entry(state: AppServices, shop_id: str) -> Entry:
    """The shop through the badge cache, so a warm page view touches no database."""
    try:
        return await state["badges"].entries.entry(shop_id)
    except UNREACHABLE_ERRORS as exc:
        # The registry is down and our copy is too old to trust.
        raise Unavailable(UNREACHABLE) from exc
    except Exception as exc:
        # A bug, not an outage: on record and counted; the visitor gets the same answer.
        state["badges"].internal_error("could not load shop %s for a page", shop_id)
        raise Unavailable(UNREACHABLE) from exc


def public_state(shop: Shop) -> PublicState:
    """Recomputed per view: an expiry at midnight shows at once, not when the cache renews."""
    return shop.public_state(today())


def state_since(shop: Shop, state: PublicState) -> datetime:
    """When the shop entered its public state; an expiry starts the day after valid_until."""
    if state == "expired" and shop.valid_until is not None:
        return datetime.combine(shop.valid_until + timedelta(days=1), time(0), tzinfo=BRUSSELS)
    since = shop.state_since
    return since if since.tzinfo else since.replace(tzinfo=UTC)


def shop_urls(shop_id: str, public_url: str) -> dict[str, object]:
    return {
        "verify_url": f"{public_url}/v/{shop_id}",
        "badge": {"svg": f"{public_url}/b/{shop_id}.svg", "png": f"{public_url}/b/{shop_id}.png"},
    }


def shop_json(shop: Shop, public_url: str) -> dict[str, object]:
    """The public view of a shop: no internal timestamps, actors or reasons."""
    state = public_state(shop)
    return {
        "id": shop.id,
        "display_name": shop.display_name,
        "legal_name": shop.legal_name,
        "enterprise_number": shop.enterprise_number,
        "domains": list(shop.domains),
        "categories": [{"id": c, "colour": CATEGORY_COLOURS[c]} for c in shop.categories],
        "state": state,
        "state_since": state_since(shop, state).isoformat(),
        "certified_now": state == "certified",
        "certified_since": _day(shop.certified_since),
        "valid_until": _day(shop.valid_until),
        "last_audit": _day(shop.last_audit),
        **shop_urls(shop.id, public_url),
    }


def _day(value: object) -> str | None:
    return None if value is None else str(value)


async def ask_registry(state: AppServices, call: Callable[[], T]) -> T:
    """A registry call in a worker thread, bounded in time. The registry down or too slow
    is a 503; the registry's own refusals (a BadgeError, such as a report it will not take)
    keep their status; anything else is a bug, logged and counted, and a 503 too."""
    try:
        with anyio.fail_after(REGISTRY_TIMEOUT):
            return await anyio.to_thread.run_sync(call, abandon_on_cancel=True)
    except UNREACHABLE_ERRORS as exc:
        raise Unavailable(UNREACHABLE) from exc
    except Exception as exc:
        if isinstance(exc, BadgeError):
            raise  # on to the one error handler, with its own status
        state["badges"].internal_error("a registry call for a page failed")
        raise Unavailable(UNREACHABLE) from exc


async def find_by_domain(state: AppServices, domain: str) -> Shop | None:
    registry = state["registry"]
    return await ask_registry(state, lambda: registry.find_by_domain(domain))


async def search(state: AppServices, query: str) -> list[Shop]:
    registry = state["registry"]
    return await ask_registry(state, lambda: registry.search(query, limit=MAX_SEARCH_RESULTS))


class HistoryCache:
    """Each shop's state history, kept as long as the badge cache keeps the same Entry.

    The change feed replaces a shop's Entry on every change, so keying on the Entry
    object invalidates both together, even for two changes within one second.
    """

    def __init__(self, caches: CacheSet, size: int = HISTORY_CACHE_SIZE) -> None:
        self._items: BoundedCache[str, tuple[Entry, list[Event]]] = caches.new(
            "shop_histories", size
        )
        self.loads = 0

    async def get(self, state: AppServices, entry: Entry) -> list[Event]:
        shop = entry.shop
        if shop is None:
            return []
        cached = self._items.get(shop.id)
        if cached is not None and cached[0] is entry:
            return cached[1]
        registry = state["registry"]
        try:
            events = await ask_registry(state, lambda: registry.history(shop.id))
        except Unavailable:
            # History is a nice-to-have on the page; the live state above it is what matters.
            return cached[1] if cached is not None else []
        self.loads += 1
        self._items.put(shop.id, (entry, events))
        return events


SiteMatch = Literal["ok", "mismatch"]


@dataclass(frozen=True, slots=True)
class Referral:
    """Where the visitor came from, and whether that site is one of the shop's domains."""

    host: str
    match: SiteMatch


def referrer_host(referer: str | None, own_hosts: frozenset[str]) -> str | None:
    """The host name in a Referer header, or None when absent, unparsable or our own."""
    if not referer or len(referer) > MAX_REFERER_CHARS:
        return None
    try:
        host = urlsplit(referer.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.rstrip(".").lower()
    if host in own_hosts:
        return None
    return host


def judge_referrer(host: str | None, shop: Shop) -> Referral | None:
    if host is None:
        return None
    normalised = rules.try_normalise_domain(host)
    if normalised is not None and normalised in shop.domains:
        return Referral(host=rules.shown_domain(normalised), match="ok")
    # A mismatch names the ASCII (punycode) form, so a look-alike domain cannot pass for
    # the real one on the very line that warns about it.
    return Referral(host=normalised or host[:253], match="mismatch")


def own_hosts(public_url: str, request_host: str | None) -> frozenset[str]:
    public = _public_hosts(public_url)
    return public | {request_host.lower()} if request_host else public


@functools.cache
def _public_hosts(public_url: str) -> frozenset[str]:
    """Parsed once: the public URL is a setting, the same on every page view."""
    host = urlsplit(public_url).hostname
    return frozenset({host.lower()}) if host else frozenset()
