"""Shops for the registry tests: valid by default, one keyword away from what a test needs."""

from __future__ import annotations

from badge.platform.timeutil import today
from badge.registry import rules
from badge.registry.base import Registry
from badge.registry.model import NewShop, Shop


def new_shop(
    name: str = "Bakkerij Test",
    *,
    domains: tuple[str, ...] = ("bakkerij-test.be",),
    state: str = "certified",
    categories: tuple[str, ...] = ("b2c_member",),
    valid_until: str | None = None,
) -> NewShop:
    return rules.validate_new_shop(
        display_name=name,
        legal_name=name + " BV",
        enterprise_number="0123.456.749",
        domains=domains,
        categories=categories,
        state=state,
        certified_since="2024-01-01" if state == "certified" else None,
        valid_until=valid_until,
        last_audit="2025-06-01",
        today=today(),
    )


def add(registry: Registry, name: str = "Bakkerij Test", **kwargs: object) -> Shop:
    return registry.create_shop(new_shop(name, **kwargs), actor="test")  # type: ignore[arg-type]
