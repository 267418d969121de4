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

import unicodedata
from typing import Annotated, Any, Final, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from badge.registry.model import ProofMethod, ProofState
from badge.registry.rules import BIDI_CONTROLS, INVISIBLE, MAX_DOMAINS, MAX_NAME, MAX_REASON
from badge.vocabulary import SHOP_ID_CLASS, SHOP_ID_LENGTH, Category, PublicState, State


def _refused_in_text() -> str:
    """The characters rules.clean_text refuses, as a regex class body of ranges: control,
    format (Cf), bidi and invisible characters. Whitespace is not refused: it is folded."""
    # Where such characters are in the BMP (Unicode 15). The few astral ones (tags, some
    # musical format marks) are left out of the schema: a regex class of astral characters
    # makes generated tests several times slower, and clean_text still refuses them.
    points = (*range(0x3200), *range(0xFE00, 0x10000))
    refused = [
        code
        for code in points
        if not chr(code).isspace()
        and (
            code < 32
            or 0x7F <= code < 0xA0
            or chr(code) in BIDI_CONTROLS
            or chr(code) in INVISIBLE
            or unicodedata.category(chr(code)) == "Cf"
        )
    ]
    ranges: list[list[int]] = []
    for code in refused:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "".join(
        _char(low) if low == high else f"{_char(low)}-{_char(high)}" for low, high in ranges
    )


def _char(code: int) -> str:
    return f"\\u{code:04x}"


_NOT_TEXT: Final = _refused_in_text()
# One line of readable text with something in it (JSON Schema patterns are searches).
TEXT_PATTERN: Final = f"^[^{_NOT_TEXT}]*[^{_NOT_TEXT}\\s][^{_NOT_TEXT}]*$"
_LABEL: Final = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_TAIL: Final = "[A-Za-z]{2,63}\\.?(?::[0-9]{1,5})?(?:/[!-~]*)?$"
# A host name in its ASCII (punycode) form, or a URL around one.
ASCII_HOST_PATTERN: Final = f"^(?:https?://)?(?:{_LABEL}\\.)+{_HOST_TAIL}"
# The same, where labels may also be Unicode (IDNA, checked by the registry's rules).
HOST_PATTERN: Final = f"^(?:https?://)?(?:[^{_NOT_TEXT}\\s./:?#@]{{1,63}}\\.)+{_HOST_TAIL}"
SHOP_ID_PATTERN: Final = f"^[{SHOP_ID_CLASS}]{{{SHOP_ID_LENGTH}}}$"
REPORT_ID_PATTERN: Final = f"^r[{SHOP_ID_CLASS}]{{{SHOP_ID_LENGTH}}}$"
# A registered domain as stored: ASCII (punycode), no scheme, port or trailing dot.
DOMAIN_PATTERN: Final = f"^(?:{_LABEL}\\.)+(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{1,59}})$"
# A compact JWS: three base64url parts; no such part is 1 more than a multiple of 4 long.
_B64: Final = "(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{4}|[A-Za-z0-9_-]{2,3})"
JWS_PATTERN: Final = f"^{_B64}\\.{_B64}\\.{_B64}$"
DAY_PATTERN: Final = "^(?:199[0-9]|20[0-9]{2}|2100)-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$"

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


class DomainStatus(Struct, kw_only=True):
    """A domain's ownership proof, as badges and the verification page use it."""

    domain: str
    state: ProofState
    method: Annotated[
        ProofMethod | None, Meta(description="How it was proven; for `lost`, how it had been.")
    ]
    since: Annotated[Moment | None, Meta(description="When it entered this state.")]
    note: Annotated[
        str | None, Meta(description="An attestation's reason; shown on the verification page.")
    ]


class DomainProof(DomainStatus, kw_only=True):
    """A domain's proof as operators see it, with its last check."""

    shop_id: ShopId
    checked_at: Moment | None
    result: Annotated[str | None, Meta(description="What the last check found.")]
    ad: Annotated[bool | None, Meta(description="DNSSEC AD flag of the last TXT answer.")]
    attested_by: Annotated[str | None, Meta(description="Who attested ownership, if anyone.")]
    next_check_at: Moment


class DomainProofs(Struct):
    domains: list[DomainProof]


class Challenge(Struct):
    """What the shop publishes: the TXT record, or the well-known file."""

    dns_name: Annotated[str, Meta(examples=["_keurmerk.example.be"])]
    dns_value: Annotated[str, Meta(examples=["keurmerk-site-verification=4f0c…"])]
    http_url: Annotated[str, Meta(examples=["https://example.be/.well-known/keurmerk-badge.txt"])]
    http_body: str


class DomainChecked(Struct):
    domain: DomainProof
    proven: bool
    changed: Annotated[bool, Meta(description="Whether the proof's state changed.")]


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
    """A badge file, or a pasted token; an empty file counts as none."""

    file: Annotated[str, Meta(extra_json_schema={"format": "binary"})] | UnsetType = UNSET
    token: Annotated[str, Meta(max_length=8192, pattern=JWS_PATTERN)] | UnsetType = UNSET


class ReportForm(Struct, kw_only=True):
    token: str
    site: Annotated[str, Meta(max_length=2048)]
    referrer: str = ""
    note: Annotated[str, Meta(max_length=1000)] = ""


UPLOAD_FORM: Final = Annotated[
    UploadForm, Meta(extra_json_schema={"anyOf": [{"required": ["file"]}, {"required": ["token"]}]})
]


# Every model the document names, requests first.
MODELS: Final = (
    NEW_SHOP,
    SHOP_UPDATE,
    StateChange,
    Attestation,
    ReportClose,
    TokenBody,
    UPLOAD_FORM,
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
