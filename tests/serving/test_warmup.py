"""Variants prepared before anyone asks: after a change, and at start from sightings."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest
from starlette.testclient import TestClient

from badge.app import create_app
from badge.registry.model import Shop
from badge.registry.sqlite import SQLiteRegistry
from badge.serving import binding, warmup
from badge.serving.service import BadgeService
from badge.serving.sightings import Seen
from badge.serving.variants import retarget
from badge.settings import Settings
from badge.vocabulary import DEFAULT_LANG
from tests.conftest import add_shop
from tests.faulty import outage_and_bug, tracebacks

SITE = "bakkerij-test.be"


def until(check: Callable[[], bool], what: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_retarget_follows_the_new_state() -> None:
    domains = frozenset({"a.be", "b.be"})
    assert retarget("a.be", False, domains) == (binding.NOT_CERTIFIED,)
    assert retarget(binding.NOT_CERTIFIED, True, domains) == ("a.be", "b.be")
    assert retarget("a.be", True, domains) == ("a.be",)
    assert retarget("gone.be", True, domains) == (binding.MISMATCH,)
    assert retarget(binding.LOOKUP, True, domains) == (binding.LOOKUP,)


def test_a_change_prepares_the_variants_its_pages_load(
    shop: Shop, client: TestClient, registry: SQLiteRegistry
) -> None:
    service: BadgeService = client.app_state["badges"]
    page = {"referer": f"https://www.{SITE}/"}
    for path in (f"/b/{shop.id}.svg?lang=fr&size=l", f"/b/{shop.id}.png?scale=2"):
        assert client.get(path, headers=page).status_code == 200
    registry.set_state(shop.id, "suspended", reason="test", actor="test")
    wanted = {
        (shop.id, "svg", "fr", "l", 1, binding.NOT_CERTIFIED),
        (shop.id, "png", "nl", "m", 2, binding.NOT_CERTIFIED),
    }

    def ready() -> bool:
        entry = service.entries.current(shop.id)
        return entry is not None and entry.state == "suspended" and wanted <= set(entry.variants)

    until(ready, "the suspended variants were never prepared")
    rendered = service.stats().drawing.renders
    badge = client.get(f"/b/{shop.id}.svg?lang=fr&size=l", headers=page)
    assert badge.status_code == 200 and "suspendu" in badge.text.lower()
    assert service.stats().drawing.renders == rendered  # served as prepared: nothing drawn for it


def test_start_prepares_the_busiest_registered_sites(
    shop: Shop, registry: SQLiteRegistry, settings: Settings
) -> None:
    registry.record_sightings({(shop.id, "referer"): {SITE: Seen(40, True)}})
    with TestClient(create_app(settings)) as client:
        service: BadgeService = client.app_state["badges"]
        key = (shop.id, "svg", DEFAULT_LANG, "m", 1, SITE)
        until(
            lambda: key in getattr(service.entries.current(shop.id), "variants", {}),
            "the default badge of a busy site was not prepared at start",
        )
        assert service.stats().prepared >= 1


def test_a_bug_while_preparing_is_logged_and_counted(
    settings: Settings, registry: SQLiteRegistry, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shop = add_shop(registry, domains=(SITE,))
    outage, bug = outage_and_bug(settings, registry, tmp_path / "warmup-keys")
    wants = {("svg", DEFAULT_LANG, "m", 1, SITE)}
    with caplog.at_level("DEBUG", logger="badge"):
        anyio.run(warmup.prepare, outage, shop.id, wants)
        assert outage.stats().internal_errors == 0  # the registry is down: requests say so
        assert not tracebacks(caplog)
        anyio.run(warmup.prepare, bug, shop.id, wants)
    assert bug.stats().internal_errors == 1 and bug.stats().prepared == 0
    (record,) = tracebacks(caplog)
    assert record.levelname == "ERROR" and shop.id in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is KeyError
