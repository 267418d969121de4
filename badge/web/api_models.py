"""Request and response models, described once: they validate the admin API's bodies
(badge/admin/body.py) and are the OpenAPI document's `components/schemas` (badge/web/openapi.py).

Why msgspec rather than pydantic: a `Struct` with `Meta(pattern=, min_length=, ge=, le=)`
maps one to one onto JSON Schema (`msgspec.json.schema_components`), decoding is strict
(no coercion of "1" to 1) and is done in one pass over the bytes, and the library is small
with no dependencies of its own. We need validation and a schema, nothing of pydantic's
wider machinery (settings, ORM modes, coercion rules).

Response models describe what handlers send; the handlers build those documents
themselves (the shop document is prepared bytes), and tests/web/test_api_models.py checks real
responses against these models' schemas.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from badge.registry.rules import MAX_DOMAINS, MAX_NAME, MAX_REASON
from badge.vocabulary import Category, PublicState, State
from badge.web.patterns import (
    DAY_PATTERN,
    FORM_TOKEN_PATTERN,
    HOST_PATTERN,
    JWS_PATTERN,
    REPORT_ID_PATTERN,
    SHOP_ID_PATTERN,
    TEXT_PATTERN,
)
from badge.web.proof_models import Challenge, DomainChecked, DomainProofs, DomainStatus

Name = Annotated[str, Meta(min_length=1, max_length=MAX_NAME, pattern=TEXT_PATTERN)]
Reason = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=MAX_REASON,
        pattern=TEXT_PATTERN,
        description="Why; kept in the history with the actor.",
    ),
]
EnterpriseNumber = Annotated[
    str,
    Meta(
        pattern="^(?:[Bb][Ee] ?)?[01]?[0-9]{3}[ .]?[0-9]{3}[ .]?[0-9]{3}$",
        description="KBO/BCE number, ten digits like 0123.456.749; the check digits count.",
        examples=["0123.456.749"],
    ),
]
Domain = Annotated[str, Meta(min_length=4, max_length=253, pattern=HOST_PATTERN)]
Domains = Annotated[
    list[Domain],
    Meta(
        min_length=1,
        max_length=MAX_DOMAINS,
        description="Normalised: lower case, punycode, no port, no `www.`.",
    ),
]
Day = Annotated[str, Meta(pattern=DAY_PATTERN, extra_json_schema={"format": "date"})]
StoredState = Annotated[
    State,
    Meta(description="`expired` is derived from valid_until and cannot be set."),
]
Moment = Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
Date = Annotated[str, Meta(extra_json_schema={"format": "date"})]
Url = Annotated[str, Meta(extra_json_schema={"format": "uri"})]
ShopId = Annotated[str, Meta(pattern=SHOP_ID_PATTERN)]


class Body(Struct, forbid_unknown_fields=True, kw_only=True):
    """A request body: unknown fields are refused, so a typo is not silently dropped."""


class NewShop(Body, kw_only=True):
    """Register a shop. `name` or `display_name` (the same field), not both."""

    name: Name | UnsetType = UNSET
    display_name: Name | UnsetType = UNSET
    legal_name: Name
    enterprise_number: EnterpriseNumber
    domains: Domains
    categories: list[Category] | None = None
    state: StoredState | None = "certified"
    certified_since: Day | None = None
    valid_until: Day | None = None
    last_audit: Day | None = None


class ShopUpdate(Body, kw_only=True):
    """Only the fields sent change; the state changes through /state. A new
    `valid_until` renews the certification."""

    reason: Reason
    name: Name | UnsetType = UNSET
    display_name: Name | UnsetType = UNSET
    legal_name: Name | UnsetType = UNSET
    enterprise_number: EnterpriseNumber | UnsetType = UNSET
    domains: Domains | UnsetType = UNSET
    categories: list[Category] | UnsetType = UNSET
    certified_since: Day | UnsetType = UNSET
    valid_until: Day | UnsetType = UNSET
    last_audit: Day | UnsetType = UNSET


class StateChange(Body):
    state: StoredState
    reason: Reason


class Attestation(Body):
    reason: Annotated[
        Reason, Meta(description="How ownership was checked (a signed letter, the registrar).")
    ]


class ReportClose(Body):
    resolution: Annotated[Reason, Meta(description="What was done.")]


# Where a body's schema needs more than its fields say: these go where it is referenced.
NEW_SHOP: Final = Annotated[
    NewShop,
    Meta(extra_json_schema={"oneOf": [{"required": ["name"]}, {"required": ["display_name"]}]}),
]
SHOP_UPDATE: Final = Annotated[
    ShopUpdate,
    Meta(extra_json_schema={"minProperties": 2, "not": {"required": ["name", "display_name"]}}),
]


class Error(Struct):
    error: Annotated[str, Meta(description="A stable code, e.g. `invalid`.")]
    message: Annotated[str, Meta(description="What went wrong, for people.")]


class CategoryColour(Struct):
    id: Category
    colour: str


class BadgeUrls(Struct):
    svg: Url
    png: Url


class PublicShop(Struct, kw_only=True):
    """A shop's live public state."""

    id: ShopId
    display_name: str
    legal_name: str
    enterprise_number: str
    domains: list[str]
    categories: list[CategoryColour]
    state: PublicState
    state_since: Moment
    certified_now: bool
    certified_since: Date | None
    valid_until: Date | None
    last_audit: Date | None
    verify_url: Url
    badge: BadgeUrls


class Lookup(PublicShop, kw_only=True):
    found: Literal[True]
    domain: str


class LookupMiss(Struct):
    found: Literal[False]
    domain: str
    certified_now: Literal[False]
    error: str
    message: str


class Verdict(Struct, kw_only=True):
    """A badge check; `error` is set only when the file or token was refused unchecked."""

    genuine: Annotated[bool, Meta(description="The signature is ours.")]
    shop_id: str | None
    shop_name: str | None
    domains: list[str]
    issued_at: Moment | None
    expires_at: Moment | None
    expired: bool
    state_then: str | None
    state_now: PublicState | None
    certified_now: bool
    reason: str
    variant: Literal["certified", "mismatch", "neutral", "not_certified"] | None = None
    site: str | None = None
    error: str | UnsetType = UNSET


class Jwk(Struct, kw_only=True):
    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str
    kid: Annotated[str, Meta(description="RFC 7638 thumbprint.")]
    alg: Literal["EdDSA"] | UnsetType = UNSET
    use: Literal["sig"] | UnsetType = UNSET


class Jwks(Struct):
    keys: list[Jwk]


class Shop(Struct, kw_only=True):
    """A shop as operators see it; `state` is the public one (`expired` derived)."""

    id: ShopId
    display_name: str
    legal_name: str
    enterprise_number: str
    domains: list[str]
    categories: list[Category]
    state: PublicState
    stored_state: State
    state_since: Moment
    certified_since: Date | None
    valid_until: Date | None
    last_audit: Date | None
    created_at: Moment
    updated_at: Moment
    proofs: list[DomainStatus]


class ShopList(Struct):
    shops: list[Shop]
    total: int
    limit: int
    offset: int


class Change(Struct, rename={"old": "from", "new": "to"}):
    old: Any
    new: Any


class Event(Struct, rename={"from_state": "from", "to_state": "to"}):
    seq: int
    shop_id: str
    at: Moment
    actor: Annotated[str, Meta(examples=["api:crm", "cli:alice"])]
    from_state: State | None
    to_state: State
    reason: str
    changes: Annotated[
        dict[str, Change] | None,
        Meta(description="For an edit of the record: field -> {from, to}."),
    ]


class StateChanged(Struct):
    event: Event
    shop: Shop


class History(Struct):
    shop_id: str
    events: list[Event]


class Sighting(Struct, kw_only=True):
    shop_id: str
    host: str
    source: Annotated[
        Literal["referer", "claim"],
        Meta(description="`referer`: the page that showed the badge; `claim`: what `d=` said."),
    ]
    registered: bool
    first_seen: Moment
    last_seen: Moment
    count: int
    shop_name: str | UnsetType | None = UNSET


class ShopSightings(Struct):
    shop_id: str
    sightings: list[Sighting]


class Sightings(Struct):
    unregistered_only: bool
    sightings: list[Sighting]


class Expiring(Struct):
    id: str
    display_name: str
    valid_until: Date | None


class ExpiringSoon(Struct):
    count: int
    shops: list[Expiring]


class Summary(Struct):
    as_of: Date
    total: int
    by_state: dict[str, int]
    expiring_within_30_days: ExpiringSoon
    unregistered_sighting_hosts: int


class Report(Struct, kw_only=True):
    id: Annotated[str, Meta(pattern=REPORT_ID_PATTERN)]
    shop_id: str
    host: Annotated[str, Meta(description="The reported site (domain or IP).")]
    referrer: str | None
    note: Annotated[str, Meta(max_length=1000)]
    lang: str
    created_at: Moment
    status: Literal["open", "closed"]
    closed_at: Moment | None
    closed_by: str | None
    resolution: str | None


class Reports(Struct):
    reports: list[Report]


class Readiness(Struct):
    ready: bool
    checks: dict[str, str]


# The public forms and the token body: read by Starlette's form parser and the badge
# checker (their refusals are verdicts or pages), and described here.
class TokenBody(Struct):
    token: Annotated[str, Meta(max_length=8192, pattern=JWS_PATTERN)]


class UploadForm(Struct, forbid_unknown_fields=True, kw_only=True):
    """A badge file, or a pasted token; an empty file counts as none. A form with neither
    is answered 400. The page's own form always sends both fields, one of them empty, so
    the schema cannot require either (JSON Schema has no "one of them non-empty")."""

    file: Annotated[str, Meta(extra_json_schema={"format": "binary"})] | UnsetType = UNSET
    token: Annotated[str, Meta(max_length=8192, pattern=FORM_TOKEN_PATTERN)] | UnsetType = UNSET


class ReportForm(Struct, kw_only=True):
    token: str
    site: Annotated[str, Meta(max_length=2048)]
    referrer: str = ""
    note: Annotated[str, Meta(max_length=1000)] = ""


# Every model the document names, requests first.
MODELS: Final = (
    NEW_SHOP,
    SHOP_UPDATE,
    StateChange,
    Attestation,
    ReportClose,
    TokenBody,
    UploadForm,
    ReportForm,
    Error,
    PublicShop,
    Lookup,
    LookupMiss,
    Verdict,
    Jwks,
    ShopList,
    StateChanged,
    DomainProofs,
    Challenge,
    DomainChecked,
    History,
    ShopSightings,
    Sightings,
    Summary,
    Report,
    Reports,
    Readiness,
)
