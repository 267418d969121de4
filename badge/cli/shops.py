"""`badge shops`: register, list, show, change and import shops."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import click

from badge.cli.common import actor, fail, friendly, notify_change, registry_from_env, require
from badge.cli.importing import import_file
from badge.cli.output import echo_json, echo_list, json_option
from badge.platform.timeutil import brussels_time, today
from badge.registry import rules
from badge.registry.model import Shop
from badge.vocabulary import CATEGORIES, STATES


@click.group()
def shops() -> None:
    """Register, list, show and change shops."""


F = TypeVar("F", bound=Callable[..., Any])


def record_options(*, new: bool) -> Callable[[F], F]:
    """The options naming a shop's record fields, shared by `add` (where the first four are
    required) and `update` (where each one left out keeps its value). Each arrives under the
    registry's name for the field."""
    options = [
        click.option("--name", "display_name", required=new, help="Display name."),
        click.option("--legal-name", required=new, help="Legal name as in the KBO/BCE."),
        click.option(
            "--enterprise-number", required=new, help="KBO/BCE number, e.g. 0123.456.749."
        ),
        click.option(
            "--domain",
            "domains",
            multiple=True,
            required=new,
            help="A registered domain." if new else "The new full list of domains.",
        ),
        click.option(
            "--category",
            "categories",
            multiple=True,
            help=f"One of {', '.join(CATEGORIES)}"
            + ("." if new else "; the new full list of categories."),
        ),
        click.option(
            "--certified-since",
            help="YYYY-MM-DD" + (" (default today if certified)." if new else "."),
        ),
        click.option("--valid-until", help="YYYY-MM-DD" + ("." if new else " (a renewal).")),
        click.option("--last-audit", help="YYYY-MM-DD."),
    ]

    def decorate(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


@shops.command("add")
@record_options(new=True)
@click.option("--state", default="certified", show_default=True, help="Initial state.")
@friendly
def shops_add(state: str, **record: Any) -> None:
    """Register a shop; prints the new id alone on the last line."""
    new = rules.validate_new_shop(**record, state=state, today=today())
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

    def line(shop: Shop) -> str:
        return (
            f"{shop.id}  {shop.public_state(day):<10} {shop.display_name}  {' '.join(shop.domains)}"
        )

    echo_list(found, as_json, "shop", line, lambda shop: shop.to_json(day))


@shops.command("show")
@click.argument("shop_id")
@json_option
@friendly
def shops_show(shop_id: str, as_json: bool) -> None:
    """Show one shop and its history."""
    with registry_from_env() as registry:
        shop = require(registry.get_shop(shop_id), "shop", shop_id)
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
        require(registry.get_shop(shop_id), "shop", shop_id)
        event = registry.set_state(shop_id, target, reason=reason, actor=actor())
    notify_change(shop_id)
    click.echo(f"{shop_id}: {event.from_state} -> {event.to_state} ({event.reason})")


@shops.command("update")
@click.argument("shop_id")
@click.option("--reason", required=True, help="Why; kept in the shop's history with the change.")
@record_options(new=False)
@click.option("--no-categories", is_flag=True, help="Remove every category.")
@friendly
def shops_update(shop_id: str, reason: str, no_categories: bool, **record: Any) -> None:
    """Change a shop's record, with a reason; the history keeps what changed."""
    if no_categories and record["categories"]:
        fail("give --category or --no-categories, not both")
    # No --domain or --category keeps the list; --no-categories empties it.
    record["domains"] = record["domains"] or None
    record["categories"] = () if no_categories else (record["categories"] or None)
    record |= rules.parse_dates(record)
    with registry_from_env() as registry:
        before = require(registry.get_shop(shop_id), "shop", shop_id)
        shop = registry.update_shop(shop_id, actor=actor(), reason=reason, **record)
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
