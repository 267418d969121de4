"""The registry's data: shops, their Keurmerk state and the append-only history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Literal, get_args

from badge.vocabulary import CATEGORIES, STATES, Category, PublicState, State


@dataclass(frozen=True, slots=True)
class Shop:
    id: str
    display_name: str
    legal_name: str
    enterprise_number: str
    domains: tuple[str, ...]
    categories: tuple[Category, ...]
    state: State
    state_since: datetime
    certified_since: date | None
    valid_until: date | None
    last_audit: date | None
    created_at: datetime
    updated_at: datetime

    def public_state(self, today: date) -> PublicState:
        """`expired` is derived here, at read time, so no background job is needed."""
        if self.state == "certified" and self.valid_until is not None and self.valid_until < today:
            return "expired"
        return self.state

    def to_json(self, today: date) -> dict[str, object]:
        """The operators' view: the stored record with the state as of `today`."""
        return {
            **shop_to_record(self),
            "state": self.public_state(today),
            "stored_state": self.state,
        }


@dataclass(frozen=True, slots=True)
class NewShop:
    """A validated shop that is not stored yet (see rules.validate_new_shop)."""

    display_name: str
    legal_name: str
    enterprise_number: str
    domains: tuple[str, ...]
    categories: tuple[Category, ...]
    state: State
    certified_since: date | None
    valid_until: date | None
    last_audit: date | None


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    shop_id: str
    at: datetime
    actor: str
    from_state: State | None
    to_state: State
    reason: str
    # For an edit of the shop's record: field -> {"from": old, "to": new}. None for a
    # change of state, a registration, and edits recorded before this was kept.
    changes: dict[str, Any] | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "shop_id": self.shop_id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "from": self.from_state,
            "to": self.to_state,
            "reason": self.reason,
            "changes": self.changes,
        }


@dataclass(frozen=True, slots=True)
class Sighting:
    shop_id: str
    host: str
    registered: bool
    first_seen: datetime
    last_seen: datetime
    count: int
    # "referer": the page that showed the badge, as the browser said; "claim": what `d=` said.
    source: str = "referer"

    def to_json(self) -> dict[str, object]:
        return {
            "shop_id": self.shop_id,
            "host": self.host,
            "source": self.source,
            "registered": self.registered,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "count": self.count,
        }


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def shop_to_record(shop: Shop) -> dict[str, object]:
    """The stored form of a shop (no derived fields), for the shared Redis cache."""
    return {
        "id": shop.id,
        "display_name": shop.display_name,
        "legal_name": shop.legal_name,
        "enterprise_number": shop.enterprise_number,
        "domains": list(shop.domains),
        "categories": list(shop.categories),
        "state": shop.state,
        "state_since": shop.state_since.isoformat(),
        "certified_since": _iso(shop.certified_since),
        "valid_until": _iso(shop.valid_until),
        "last_audit": _iso(shop.last_audit),
        "created_at": shop.created_at.isoformat(),
        "updated_at": shop.updated_at.isoformat(),
    }


def shop_from_record(data: dict[str, Any]) -> Shop:
    def day(value: object) -> date | None:
        return None if value is None else date.fromisoformat(str(value))

    state = data["state"]
    if state not in STATES:
        raise ValueError(f"bad state {state!r}")
    categories = tuple(c for c in data["categories"] if c in CATEGORIES)
    return Shop(
        id=str(data["id"]),
        display_name=str(data["display_name"]),
        legal_name=str(data["legal_name"]),
        enterprise_number=str(data["enterprise_number"]),
        domains=tuple(str(d) for d in data["domains"]),
        categories=categories,
        state=state,
        state_since=datetime.fromisoformat(data["state_since"]),
        certified_since=day(data["certified_since"]),
        valid_until=day(data["valid_until"]),
        last_audit=day(data["last_audit"]),
        created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]),
    )


ReportStatus = Literal["open", "closed"]
REPORT_STATUSES: Final[tuple[ReportStatus, ...]] = get_args(ReportStatus)


@dataclass(frozen=True, slots=True)
class NewReport:
    """A consumer's report that a site shows a shop's badge, or claims to be it, wrongly."""

    shop_id: str
    host: str
    referrer: str | None
    note: str
    lang: str


@dataclass(frozen=True, slots=True)
class Report:
    id: str
    shop_id: str
    host: str
    referrer: str | None
    note: str
    lang: str
    created_at: datetime
    status: ReportStatus
    closed_at: datetime | None
    closed_by: str | None
    resolution: str | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "shop_id": self.shop_id,
            "host": self.host,
            "referrer": self.referrer,
            "note": self.note,
            "lang": self.lang,
            "created_at": self.created_at.isoformat(),
            "status": self.status,
            "closed_at": None if self.closed_at is None else self.closed_at.isoformat(),
            "closed_by": self.closed_by,
            "resolution": self.resolution,
        }


def report_from_row(row: Any, moment: Callable[[Any], datetime]) -> Report:
    """A stored report; `moment` reads the backend's timestamps (text or datetime)."""
    closed = row["closed_at"]
    status = row["status"]
    return Report(
        id=row["id"],
        shop_id=row["shop_id"],
        host=row["host"],
        referrer=row["referrer"],
        note=row["note"],
        lang=row["lang"],
        created_at=moment(row["created_at"]),
        status="closed" if status == "closed" else "open",
        closed_at=None if closed is None else moment(closed),
        closed_by=row["closed_by"],
        resolution=row["resolution"],
    )
