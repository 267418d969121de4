"""The certification procedure's changes to a stored shop: which state moves it allows,
what a first certification records, and audited edits, each checked against the shop as
stored. The backends call these inside their write transaction (badge/registry/store.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Final, Unpack, cast

from badge.errors import Conflict, ValidationError
from badge.platform.timeutil import BRUSSELS
from badge.registry.model import NewShop, Shop, ShopEdit, plain
from badge.registry.rules import (
    MAX_REASON,
    check_date_range,
    check_validity,
    clean_text,
    normalise_domains,
    normalise_enterprise_number,
    parse_categories,
)
from badge.vocabulary import State

# Which moves the certification procedure allows. Renewal (certified -> certified with a
# new valid_until) is an update, recorded as an event by the registry.
TRANSITIONS: Final[Mapping[State, frozenset[State]]] = {
    "certified": frozenset({"suspended", "revoked"}),
    "suspended": frozenset({"certified", "revoked"}),
    "revoked": frozenset({"certified"}),
}


def first_state_since(shop: NewShop, now: datetime) -> datetime:
    """When a newly stored shop entered its state, in UTC.

    A shop registered (or imported) as certified has been so since its certification date,
    at Brussels midnight, not since the moment it was typed in.
    """
    if shop.state == "certified" and shop.certified_since is not None:
        midnight = datetime.combine(shop.certified_since, time(0), tzinfo=BRUSSELS)
        return min(now, midnight.astimezone(UTC))
    return now


def first_certification_day(
    certified_since: date | None, target: State, now: datetime
) -> date | None:
    """The day to record as `certified_since` when a shop becomes certified for the first time.

    A Belgian calendar day, like valid_until; the UTC date is a day off near midnight.
    """
    if target != "certified" or certified_since is not None:
        return None
    return now.astimezone(BRUSSELS).date()


def check_transition(current: State, target: State) -> None:
    if current == target:
        raise Conflict(f"shop is already {current}")
    if target not in TRANSITIONS[current]:
        raise Conflict(f"a {current} shop cannot become {target}")


def plan_state_change(current: Shop, target: State, now: datetime) -> date | None:
    """Check a change of state; the `certified_since` to write with it, if any."""
    check_transition(current.state, target)
    day = first_certification_day(current.certified_since, target, now)
    if day is not None:
        check_validity(day, current.valid_until, "; renew valid_until before certifying")
    return day


@dataclass(frozen=True, slots=True)
class ShopUpdate:
    """A checked change to a shop: the columns to write and, for the history, what changed."""

    columns: dict[str, object]
    domains: tuple[str, ...] | None
    changes: dict[str, dict[str, object]]
    reason: str


def plan_update(current: Shop, *, reason: str | None, **edit: Unpack[ShopEdit]) -> ShopUpdate:
    """Check a change against the shop as stored; backends call it inside their write
    transaction, with `current` read there, and store exactly what it returns.

    Every change needs a reason; fields given with their current value are no change.
    """
    if reason is None or not str(reason).strip():
        raise ValidationError("a reason is required; it is kept in the shop's history")
    reason = clean_text(reason, "reason", limit=MAX_REASON)
    wanted = _wanted(edit)
    since = wanted.get("certified_since", current.certified_since)
    until = wanted.get("valid_until", current.valid_until)
    check_validity(cast(date | None, since), cast(date | None, until))
    changes: dict[str, dict[str, object]] = {}
    columns: dict[str, object] = {}
    for name, value in wanted.items():
        old = getattr(current, name)
        if value != old:
            columns[name] = value
            changes[name] = {"from": plain(old), "to": plain(value)}
    new_domains = None
    domains = edit.get("domains")
    if domains is not None:
        normalised = normalise_domains(domains)
        if normalised != current.domains:
            new_domains = normalised
            changes["domains"] = {"from": list(current.domains), "to": list(normalised)}
    return ShopUpdate(columns, new_domains, changes, reason)


def _wanted(edit: ShopEdit) -> dict[str, object]:
    """The edited columns other than the domains, each checked and normalised."""
    wanted: dict[str, object] = {}
    if (name := edit.get("display_name")) is not None:
        wanted["display_name"] = clean_text(name, "name")
    if (legal_name := edit.get("legal_name")) is not None:
        wanted["legal_name"] = clean_text(legal_name, "legal name")
    if (number := edit.get("enterprise_number")) is not None:
        wanted["enterprise_number"] = normalise_enterprise_number(number)
    if (categories := edit.get("categories")) is not None:
        wanted["categories"] = parse_categories(categories)
    dates = {
        "certified_since": edit.get("certified_since"),
        "valid_until": edit.get("valid_until"),
        "last_audit": edit.get("last_audit"),
    }
    for field, value in dates.items():
        if value is not None:
            wanted[field] = check_date_range(value, field)
    return wanted
