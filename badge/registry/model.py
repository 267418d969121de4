"""The registry's data: shops, their Keurmerk state and the append-only history."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any, Final, Literal, TypedDict, cast, get_args

from badge.vocabulary import CATEGORIES, STATES, Category, PublicState, State

# The stored form's fields, in the order records list them.
SHOP_FIELDS: Final = (
    "id",
    "display_name",
    "legal_name",
    "enterprise_number",
    "domains",
    "categories",
    "state",
    "state_since",
    "certified_since",
    "valid_until",
    "last_audit",
    "created_at",
    "updated_at",
    "proofs",
)
_TEXTS: Final = ("id", "display_name", "legal_name", "enterprise_number")
_DAYS: Final = ("certified_since", "valid_until", "last_audit")
_MOMENTS: Final = ("state_since", "created_at", "updated_at")


# How each registered website was shown to be the shop's (badge/proofs/); see DESIGN.md.
ProofState = Literal["pending", "proven", "lost", "registered_before_proofs"]
PROOF_STATES: Final[tuple[ProofState, ...]] = get_args(ProofState)
ProofMethod = Literal["dns", "file", "attested"]
PROOF_METHODS: Final[tuple[ProofMethod, ...]] = get_args(ProofMethod)


@dataclass(frozen=True, slots=True)
class DomainStatus:
    """What badges and pages need of one domain's proof; it changes only with its state.

    `method` is how it was proven (for `lost`: how it had been); `since` is when the domain
    entered its state (None for a domain registered before proofs).
    """

    domain: str
    state: ProofState
    method: ProofMethod | None = None
    since: datetime | None = None
    # An attestation's reason: how ownership was checked. Public: the page shows it.
    note: str | None = None

    def to_json(self) -> dict[str, object]:
        return as_json(self)


def status_from_json(data: Mapping[str, Any]) -> DomainStatus:
    state, method = data["state"], data.get("method")
    if state not in PROOF_STATES or (method is not None and method not in PROOF_METHODS):
        raise ValueError(f"bad domain proof {state!r} {method!r}")
    since, note = data.get("since"), data.get("note")
    when = None if since is None else moment(since)
    return DomainStatus(
        str(data["domain"]), state, method, when, None if note is None else str(note)
    )


@dataclass(frozen=True, slots=True)
class ShopDetails:
    """What an operator enters about a shop; the registry adds its id and timestamps."""

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
class NewShop(ShopDetails):
    """A validated shop that is not stored yet (see rules.validate_new_shop)."""


@dataclass(frozen=True, slots=True)
class Shop(ShopDetails):
    id: str
    state_since: datetime
    created_at: datetime
    updated_at: datetime
    # One per registered domain, in the order of `domains`.
    proofs: tuple[DomainStatus, ...] = ()

    def proof(self, domain: str) -> DomainStatus | None:
        return next((p for p in self.proofs if p.domain == domain), None)

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


class ShopEdit(TypedDict, total=False):
    """The fields an update may change; a field left out (or None) keeps its value."""

    display_name: str | None
    legal_name: str | None
    enterprise_number: str | None
    domains: Iterable[str] | None
    categories: Iterable[str] | None
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
        return as_json(
            self, ("shop_id", "host", "source", "registered", "first_seen", "last_seen", "count")
        )


def as_json(record: Any, names: Iterable[str] | None = None) -> dict[str, object]:
    """A record's fields (all, or `names` in that order) as JSON has them (`plain`)."""
    if names is None:
        names = [field.name for field in fields(record)]
    return {name: plain(getattr(record, name)) for name in names}


def plain(value: object) -> object:
    """A value as JSON has it: dates and times as ISO text, tuples as lists."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [v.to_json() if isinstance(v, DomainStatus) else v for v in value]
    return value


def day(value: object) -> date | None:
    """A stored day: a date (PostgreSQL) or its ISO text (SQLite, JSON)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def moment(value: object) -> datetime:
    """A stored time in UTC: a datetime (PostgreSQL) or its ISO text (SQLite, JSON)."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when if when.tzinfo is None else when.astimezone(UTC)


def shop_to_record(shop: Shop) -> dict[str, object]:
    """The stored form of a shop (no derived fields), for the shared Redis cache."""
    return {name: plain(getattr(shop, name)) for name in SHOP_FIELDS}


def shop_from_record(data: Mapping[str, Any]) -> Shop:
    """A shop from its stored form: shop_to_record's, or a registry row."""
    state = data["state"]
    if state not in STATES:
        raise ValueError(f"bad state {state!r}")
    fields: dict[str, Any] = {name: str(data[name]) for name in _TEXTS}
    fields.update({name: day(data[name]) for name in _DAYS})
    fields.update({name: moment(data[name]) for name in _MOMENTS})
    return Shop(
        domains=tuple(str(d) for d in data["domains"]),
        proofs=tuple(status_from_json(p) for p in data.get("proofs") or ()),
        categories=tuple(c for c in data["categories"] if c in CATEGORIES),
        state=state,
        **fields,
    )


def event_from_row(row: Mapping[str, Any]) -> Event:
    return Event(
        seq=int(row["seq"]),
        shop_id=row["shop_id"],
        at=moment(row["at"]),
        actor=row["actor"],
        from_state=cast(State | None, row["from_state"]),
        to_state=cast(State, row["to_state"]),
        reason=row["reason"],
        changes=row["changes"],
    )


def sighting_from_row(row: Mapping[str, Any]) -> Sighting:
    return Sighting(
        shop_id=row["shop_id"],
        host=row["host"],
        registered=bool(row["registered"]),
        first_seen=moment(row["first_seen"]),
        last_seen=moment(row["last_seen"]),
        count=int(row["count"]),
        source=row["source"],
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
        return as_json(self)


def report_from_row(row: Mapping[str, Any]) -> Report:
    closed = row["closed_at"]
    return Report(
        id=row["id"],
        shop_id=row["shop_id"],
        host=row["host"],
        referrer=row["referrer"],
        note=row["note"],
        lang=row["lang"],
        created_at=moment(row["created_at"]),
        status="closed" if row["status"] == "closed" else "open",
        closed_at=None if closed is None else moment(closed),
        closed_by=row["closed_by"],
        resolution=row["resolution"],
    )


@dataclass(frozen=True, slots=True)
class DomainProof:
    """One domain's proof as operators see it: the challenge and the last check too."""

    shop_id: str
    status: DomainStatus
    token: str
    checked_at: datetime | None
    result: str | None
    ad: bool | None
    attested_by: str | None
    next_check_at: datetime

    @property
    def domain(self) -> str:
        return self.status.domain

    def to_json(self) -> dict[str, object]:
        # The challenge token is left out: `badge domains challenge` shows what to publish.
        checks = ("checked_at", "result", "ad", "attested_by", "next_check_at")
        return {"shop_id": self.shop_id, **self.status.to_json(), **as_json(self, checks)}


def proof_from_row(row: Mapping[str, Any]) -> DomainProof:
    status = status_from_json({**row, "note": row["attestation"]})
    checked = row["checked_at"]
    return DomainProof(
        shop_id=row["shop_id"],
        status=status,
        token=row["token"],
        checked_at=None if checked is None else moment(checked),
        result=row["result"],
        ad=None if row["ad"] is None else bool(row["ad"]),
        attested_by=row["attested_by"],
        next_check_at=moment(row["next_check_at"]),
    )
