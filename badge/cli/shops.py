"""`badge shops`: register, list, show, change and import shops."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click

from badge.cli.common import (
    actor,
    echo_json,
    fail,
    friendly,
    json_option,
    notify_change,
    registry_from_env,
)
from badge.cli.importing import import_file
from badge.platform.timeutil import brussels_time, today
from badge.registry import rules
from badge.registry.model import Shop
from badge.vocabulary import CATEGORIES, STATES


@click.group()
def shops() -> None:
    """Register, list, show and change shops."""


@shops.command("add")
@click.option("--name", required=True, help="Display name.")
@click.option("--legal-name", required=True, help="Legal name as in the KBO/BCE.")
@click.option("--enterprise-number", required=True, help="KBO/BCE number, e.g. 0123.456.749.")
@click.option("--domain", "domains", multiple=True, required=True, help="A registered domain.")
@click.option("--category", "categories", multiple=True, help=f"One of {', '.join(CATEGORIES)}.")
@click.option("--state", default="certified", show_default=True, help="Initial state.")
@click.option("--certified-since", default=None, help="YYYY-MM-DD (default today if certified).")
@click.option("--valid-until", default=None, help="YYYY-MM-DD.")
@click.option("--last-audit", default=None, help="YYYY-MM-DD.")
@friendly
def shops_add(
    name: str,
    legal_name: str,
    enterprise_number: str,
    domains: tuple[str, ...],
    categories: tuple[str, ...],
    state: str,
    certified_since: str | None,
    valid_until: str | None,
    last_audit: str | None,
) -> None:
    """Register a shop; prints the new id alone on the last line."""
    new = rules.validate_new_shop(
        display_name=name,
        legal_name=legal_name,
        enterprise_number=enterprise_number,
        domains=domains,
        categories=categories,
        state=state,
        certified_since=certified_since,
        valid_until=valid_until,
        last_audit=last_audit,
        today=today(),
    )
    with registry_from_env(create=True) as registry:
        shop = registry.create_shop(new, actor=actor())
    notify_change(shop.id)
    click.echo(f"registered {shop.display_name} ({', '.join(shop.domains)}) as {shop.state}")
    click.echo(shop.id)


@shops.command("list")
@json_option
@friendly
def shops_list(as_json: bool) -> None:
    """List every shop with its current state."""
    with registry_from_env() as registry:
        found = registry.list_shops(limit=1_000_000)
    day = today()
    if as_json:
        echo_json([s.to_json(day) for s in found])
        return
    for shop in found:
        click.echo(
            f"{shop.id}  {shop.public_state(day):<10} {shop.display_name}  {' '.join(shop.domains)}"
        )
    click.echo(f"{len(found)} shop(s)", err=True)


@shops.command("show")
@click.argument("shop_id")
@json_option
@friendly
def shops_show(shop_id: str, as_json: bool) -> None:
    """Show one shop and its history."""
    with registry_from_env() as registry:
        shop = registry.get_shop(shop_id)
        if shop is None:
            fail(f"no shop with id {shop_id!r}")
            return
        events = registry.history(shop.id)
    day = today()
    if as_json:
        data = shop.to_json(day) | {"history": [e.to_json() for e in events]}
        echo_json(data)
        return
    _print_shop(shop, day)
    click.echo("history:")
    for event in events:
        if event.changes is not None:
            click.echo(
                f"  {event.at.isoformat()}  edited {_changes_text(event.changes)}  "
                f"by {event.actor}: {event.reason}"
            )
            continue
        origin = event.from_state or "-"
        click.echo(
            f"  {brussels_time(event.at)}  {origin} -> {event.to_state}  by {event.actor}: "
            f"{event.reason}"
        )


def _print_shop(shop: Shop, day: date) -> None:
    rows = [
        ("id", shop.id),
        ("name", shop.display_name),
        ("legal name", shop.legal_name),
        ("enterprise number", shop.enterprise_number),
        ("domains", ", ".join(shop.domains)),
        ("categories", ", ".join(shop.categories) or "-"),
        ("state", f"{shop.public_state(day)} since {brussels_time(shop.state_since)}"),
        ("certified since", str(shop.certified_since or "-")),
        ("valid until", str(shop.valid_until or "-")),
        ("last audit", str(shop.last_audit or "-")),
    ]
    for label, value in rows:
        click.echo(f"{label + ':':<19}{value}")


@shops.command("set-state")
@click.argument("shop_id")
@click.argument("state", metavar=f"STATE ({'|'.join(STATES)})")
@click.option("--reason", required=True, help="Why; kept in the shop's history.")
@friendly
def shops_set_state(shop_id: str, state: str, reason: str) -> None:
    """Certify, suspend or revoke a shop, with a reason."""
    target = rules.parse_state(state)
    with registry_from_env() as registry:
        if registry.get_shop(shop_id) is None:
            fail(f"no shop with id {shop_id!r}")
        event = registry.set_state(shop_id, target, reason=reason, actor=actor())
    notify_change(shop_id)
    click.echo(f"{shop_id}: {event.from_state} -> {event.to_state} ({event.reason})")


@shops.command("update")
@click.argument("shop_id")
@click.option("--reason", required=True, help="Why; kept in the shop's history with the change.")
@click.option("--name", default=None, help="Display name.")
@click.option("--legal-name", default=None, help="Legal name as in the KBO/BCE.")
@click.option("--enterprise-number", default=None, help="KBO/BCE number.")
@click.option("--domain", "domains", multiple=True, help="The new full list of domains.")
@click.option("--category", "categories", multiple=True, help="The new full list of categories.")
@click.option("--no-categories", is_flag=True, help="Remove every category.")
@click.option("--certified-since", default=None, help="YYYY-MM-DD.")
@click.option("--valid-until", default=None, help="YYYY-MM-DD (a renewal).")
@click.option("--last-audit", default=None, help="YYYY-MM-DD.")
@friendly
def shops_update(
    shop_id: str,
    reason: str,
    name: str | None,
    legal_name: str | None,
    enterprise_number: str | None,
    domains: tuple[str, ...],
    categories: tuple[str, ...],
    no_categories: bool,
    certified_since: str | None,
    valid_until: str | None,
    last_audit: str | None,
) -> None:
    """Change a shop's record, with a reason; the history keeps what changed."""
    if no_categories and categories:
        fail("give --category or --no-categories, not both")
    with registry_from_env() as registry:
        before = registry.get_shop(shop_id)
        if before is None:
            fail(f"no shop with id {shop_id!r}")
        shop = registry.update_shop(
            shop_id,
            actor=actor(),
            reason=reason,
            display_name=name,
            legal_name=legal_name,
            enterprise_number=enterprise_number,
            domains=domains or None,
            categories=() if no_categories else (categories or None),
            certified_since=rules.parse_date(certified_since, "certified_since"),
            valid_until=rules.parse_date(valid_until, "valid_until"),
            last_audit=rules.parse_date(last_audit, "last_audit"),
        )
    if shop == before:
        click.echo(f"{shop_id}: nothing changed")
        return
    notify_change(shop_id)
    click.echo(f"{shop_id}: updated ({reason})")


def _changes_text(changes: dict[str, Any]) -> str:
    return "; ".join(
        f"{name} {_value(change.get('from'))} -> {_value(change.get('to'))}"
        for name, change in changes.items()
    )


def _value(value: object) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) or "-"
    return "-" if value is None else str(value)


@shops.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@friendly
def shops_import(file: Path) -> None:
    """Import shops from CSV or JSON; all rows are checked first, none written if one fails."""
    with registry_from_env(create=True) as registry:
        created = import_file(registry, file)
    notify_change(*(shop.id for shop in created))
    for shop in created:
        click.echo(f"{shop.id}  {shop.state:<10} {shop.display_name} ({shop.domains[0]})")
    click.echo(f"imported {len(created)} shop(s)")
