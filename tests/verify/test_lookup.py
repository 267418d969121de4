"""badge.verify.lookup: referrers, the public shop view and the history cache."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import anyio
import idna
import pytest

from badge.errors import Conflict, Unavailable
from badge.platform.caches import CacheSet
from badge.platform.metrics import Metrics
from badge.platform.timeutil import today
from badge.registry.model import Event, Shop
from badge.registry.sqlite import SQLiteRegistry
from badge.serving.hotpath import HotPathStats
from badge.serving.service import Entry
from badge.settings import Settings
from badge.state import AppServices
from badge.verify import lookup
from badge.verify.lookup import HistoryCache, Referral, judge_referrer, own_hosts, referrer_host
from badge.vocabulary import CATEGORY_COLOURS
from tests.conftest import add_shop
from tests.faulty import BrokenRegistry, outage_and_bug, tracebacks

IDN_ASCII = idna.encode("bäckerei.be", uts46=True).decode()
OURS = own_hosts("https://badge.becommerce.be", "badge.becommerce.be")


def make_shop(**changes: object) -> Shop:
    base: dict[str, object] = {
        "id": "abcdefghijkmnpqr",
        "display_name": "Bakkerij",
        "legal_name": "Bakkerij BV",
        "enterprise_number": "0123.456.749",
        "domains": ("bakkerij.be", IDN_ASCII),
        "categories": ("b2b_member",),
        "state": "certified",
        "state_since": datetime(2026, 1, 2, 9, 30, tzinfo=UTC),
        "certified_since": date(2025, 1, 1),
        "valid_until": today() + timedelta(days=30),
        "last_audit": date(2026, 1, 1),
        "created_at": datetime(2025, 1, 1, tzinfo=UTC),
        "updated_at": datetime(2026, 1, 2, tzinfo=UTC),
    }
    base.update(changes)
    return Shop(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("https://www.shop.be/cart?x=1", "www.shop.be", id="url"),
        pytest.param("https://SHOP.be./", "shop.be", id="case-and-dot"),
        pytest.param("http://shop.be:8080/a", "shop.be", id="port"),
        pytest.param(None, None, id="absent"),
        pytest.param("", None, id="empty"),
        pytest.param("https://badge.becommerce.be/verify", None, id="ours"),
        pytest.param("/relative/path", None, id="relative"),
        pytest.param("http://[::1", None, id="unparsable"),
        pytest.param("https://" + "a" * 3000 + ".be/", None, id="huge"),
    ],
)
def test_referrer_host(header: str | None, expected: str | None) -> None:
    assert referrer_host(header, OURS) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        pytest.param("bakkerij.be", Referral("bakkerij.be", "ok"), id="registered"),
        pytest.param("www.bakkerij.be", Referral("bakkerij.be", "ok"), id="www"),
        pytest.param(IDN_ASCII, Referral("bäckerei.be", "ok"), id="idn-shown-unicode"),
        pytest.param("fake.example", Referral("fake.example", "mismatch"), id="other"),
        pytest.param(
            "bakkerij.be.evil.io", Referral("bakkerij.be.evil.io", "mismatch"), id="suffix"
        ),
        pytest.param("localhost", Referral("localhost", "mismatch"), id="not-a-domain"),
        pytest.param(None, None, id="none"),
    ],
)
def test_judge_referrer(host: str | None, expected: Referral | None) -> None:
    assert judge_referrer(host, make_shop()) == expected


def test_shop_json_is_public_only() -> None:
    data = lookup.shop_json(make_shop(), "https://badge.test")
    assert data["categories"] == [{"id": "b2b_member", "colour": CATEGORY_COLOURS["b2b_member"]}]
    assert data["state"] == "certified" and data["certified_now"] is True
    assert data["state_since"] == "2026-01-02T09:30:00+00:00"
    assert data["verify_url"] == "https://badge.test/v/abcdefghijkmnpqr"
    assert "updated_at" not in data and "stored_state" not in data


def test_expiry_is_dated_the_day_after_valid_until() -> None:
    shop = make_shop(valid_until=date(2026, 3, 31), certified_since=date(2025, 1, 1))
    assert lookup.public_state(shop) == "expired"
    since = lookup.state_since(shop, "expired")
    assert since.date() == date(2026, 4, 1)
    assert since.utcoffset() == timedelta(hours=2)  # Brussels summer time


def _entry(shop: Shop) -> Entry:
    return Entry(shop=shop, state="certified", token=None, refresh_at=0.0)


class CountingRegistry:
    def __init__(self) -> None:
        self.calls = 0

    def history(self, shop_id: str) -> list[Event]:
        self.calls += 1
        at = datetime(2026, 1, 1, tzinfo=UTC)
        return [Event(self.calls, shop_id, at, "op", None, "certified", "internal")]


def test_history_cache_follows_the_entry() -> None:
    registry = CountingRegistry()
    state: AppServices = {"registry": registry}  # type: ignore[typeddict-item]
    cache = HistoryCache(CacheSet(), size=2)
    shop = make_shop()
    first = _entry(shop)

    async def run() -> None:
        await cache.get(state, first)
        await cache.get(state, first)
        assert registry.calls == 1
        # The change feed replaced the entry: the history is read again.
        events = await cache.get(state, _entry(shop))
        assert registry.calls == 2
        assert events[0].seq == 2
        assert await cache.get(state, Entry(None, "unknown", None, 0.0)) == []

    anyio.run(run)


def test_history_cache_is_bounded() -> None:
    registry = CountingRegistry()
    state: AppServices = {"registry": registry}  # type: ignore[typeddict-item]
    caches = CacheSet()
    cache = HistoryCache(caches, size=3)

    async def run() -> None:
        for index in range(10):
            await cache.get(state, _entry(make_shop(id=f"abcdefghijkmnp{index:02d}")))
        (stats,) = caches.snapshot()
        assert (stats.name, stats.size, stats.evictions) == ("shop_histories", 3, 7)

    anyio.run(run)


# -- a bug is not an outage ----------------------------------------------------------------


def test_a_bug_loading_a_page_shop_is_logged_and_counted(
    settings: Settings, registry: SQLiteRegistry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shop = add_shop(registry)
    services = outage_and_bug(settings, registry, tmp_path / "keys")
    outage: AppServices = {"badges": services[0]}  # type: ignore[typeddict-item]
    bug: AppServices = {"badges": services[1]}  # type: ignore[typeddict-item]
    with caplog.at_level("DEBUG", logger="badge"):
        with pytest.raises(Unavailable):
            anyio.run(lookup.live_entry, outage, shop.id)
        assert outage["badges"].stats().internal_errors == 0
        assert not tracebacks(caplog)  # an outage is the change feed's news, not a bug
        with pytest.raises(Unavailable):
            anyio.run(lookup.live_entry, bug, shop.id)
    assert bug["badges"].stats().internal_errors == 1
    (record,) = tracebacks(caplog)
    assert record.levelname == "ERROR" and shop.id in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is KeyError


def test_a_bug_in_a_registry_call_is_logged_and_counted(
    settings: Settings, registry: SQLiteRegistry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    add_shop(registry, name="Bakkerij Zoek")
    _, service = outage_and_bug(settings, registry, tmp_path / "keys")
    state: AppServices = {"badges": service, "registry": BrokenRegistry(registry)}  # type: ignore[typeddict-item]

    def gone() -> None:
        raise sqlite3.OperationalError("unable to open database file")

    def refused() -> None:
        raise Conflict("a refusal of the registry's own")

    with caplog.at_level("DEBUG", logger="badge"):
        with pytest.raises(Unavailable, match="cannot be reached"):
            anyio.run(lookup.ask_registry, state, gone)
        with pytest.raises(Conflict):  # keeps its status, neither a 503 nor a bug
            anyio.run(lookup.ask_registry, state, refused)
        assert service.stats().internal_errors == 0 and not tracebacks(caplog)
        with pytest.raises(Unavailable, match="cannot be reached"):
            anyio.run(lookup.search, state, "Zoek")
    assert service.stats().internal_errors == 1
    (record,) = tracebacks(caplog)
    assert record.levelname == "ERROR" and "registry call" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is AttributeError
    metrics = Metrics(HotPathStats(), service).render()[0].decode()
    assert "badge_internal_errors_total 1.0" in metrics
