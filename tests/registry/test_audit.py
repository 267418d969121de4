"""Every change to a shop needs a reason and lands in the append-only history with its actor
and what changed, in both backends; look-alike domains are refused at registration."""

from __future__ import annotations

from datetime import date

import pytest

from badge.errors import Conflict, ValidationError
from badge.registry.base import Registry
from tests.registry.shops import add, new_shop


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_an_edit_without_a_reason_is_refused_and_changes_nothing(
    registry: Registry, reason: str | None
) -> None:
    shop = add(registry)
    cursor = registry.change_cursor()
    with pytest.raises(ValidationError, match="a reason is required"):
        registry.update_shop(shop.id, actor="t", reason=reason, domains=("elders.be",))
    assert registry.get_shop(shop.id) == shop
    assert len(registry.history(shop.id)) == 1
    assert registry.change_cursor() == cursor


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            {"domains": ("nieuw.be", "www.tweede.be")},
            {"domains": {"from": ["bakkerij-test.be"], "to": ["nieuw.be", "tweede.be"]}},
            id="domains",
        ),
        pytest.param(
            {"display_name": "Bakkerij Nieuw", "legal_name": "Nieuw NV"},
            {
                "display_name": {"from": "Bakkerij Test", "to": "Bakkerij Nieuw"},
                "legal_name": {"from": "Bakkerij Test BV", "to": "Nieuw NV"},
            },
            id="names",
        ),
        pytest.param(
            {"categories": ("sponsor",)},
            {"categories": {"from": ["b2c_member"], "to": ["sponsor"]}},
            id="categories",
        ),
        pytest.param(
            {"last_audit": date(2026, 2, 1), "certified_since": date(2023, 5, 1)},
            {
                "last_audit": {"from": "2025-06-01", "to": "2026-02-01"},
                "certified_since": {"from": "2024-01-01", "to": "2023-05-01"},
            },
            id="dates",
        ),
    ],
)
def test_each_edit_is_an_event_with_actor_reason_and_changes(
    registry: Registry, change: dict[str, object], expected: dict[str, object]
) -> None:
    shop = add(registry)
    registry.update_shop(shop.id, actor="api:crm", reason="ticket 4711", **change)  # type: ignore[arg-type]
    events = registry.history(shop.id)
    assert len(events) == 2
    last = events[-1]
    assert last.actor == "api:crm"
    assert last.reason == "ticket 4711"
    assert (last.from_state, last.to_state) == ("certified", "certified")
    assert last.changes == expected
    assert last.to_json()["changes"] == expected


def test_an_edit_to_the_same_values_records_nothing(registry: Registry) -> None:
    shop = add(registry)
    cursor = registry.change_cursor()
    same = registry.update_shop(
        shop.id, actor="t", reason="no-op", display_name=shop.display_name, domains=shop.domains
    )
    assert same == shop
    assert len(registry.history(shop.id)) == 1
    assert registry.change_cursor() == cursor


def test_the_reason_is_cleaned_like_any_text(registry: Registry) -> None:
    shop = add(registry)
    with pytest.raises(ValidationError, match="bidi control"):
        registry.update_shop(shop.id, actor="t", reason="ok\u202eko", display_name="X")


# Look-alike domains (UTS #39 skeletons)

LOOKALIKES = [
    pytest.param("ѕhop.be", id="cyrillic-dze-for-s"),
    pytest.param("shoр.be", id="cyrillic-er-for-p"),
    pytest.param("www.ѕhop.be", id="with-www"),
    pytest.param("paypa1.be", id="digit-one-for-l"),
]


@pytest.mark.parametrize("lookalike", LOOKALIKES)
def test_a_lookalike_of_another_shops_domain_is_refused(registry: Registry, lookalike: str) -> None:
    first = add(registry, "First", domains=("shop.be", "paypal.be"))
    cursor = registry.change_cursor()
    with pytest.raises(Conflict, match=f"registered to shop {first.id}"):
        add(registry, "Copycat", domains=("copycat.be", lookalike))
    second = add(registry, "Second", domains=("second.be",))
    with pytest.raises(Conflict, match="looks like"):
        registry.update_shop(second.id, actor="t", reason="r", domains=("second.be", lookalike))
    assert registry.get_shop(second.id) == second
    with pytest.raises(Conflict, match="looks like"):
        registry.import_shops([new_shop("Batch", domains=(lookalike,))], actor="t")
    assert registry.change_cursor() == cursor + 1  # only Second was stored


def test_a_shop_may_hold_lookalikes_of_its_own_domains(registry: Registry) -> None:
    shop = add(registry, domains=("shop.be",))
    updated = registry.update_shop(shop.id, actor="t", reason="r", domains=("shop.be", "ѕhop.be"))
    assert len(updated.domains) == 2


def test_lookalikes_within_one_import_are_refused(registry: Registry) -> None:
    with pytest.raises(Conflict, match="looks like"):
        registry.import_shops(
            [new_shop("A", domains=("shop.be",)), new_shop("B", domains=("ѕhop.be",))],
            actor="t",
        )
    assert registry.count_shops() == 0


def test_distinct_names_are_not_lookalikes(registry: Registry) -> None:
    add(registry, "A", domains=("bucher.be",))
    add(registry, "B", domains=("bücher.be",))
    add(registry, "C", domains=("пример.be",))
    assert registry.count_shops() == 3
