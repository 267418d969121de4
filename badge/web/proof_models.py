"""The admin API's models for domain ownership proofs (see badge/web/api_models.py)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

from badge.registry.model import ProofMethod, ProofState
from badge.web.patterns import SHOP_ID_PATTERN

Moment = Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
ShopId = Annotated[str, Meta(pattern=SHOP_ID_PATTERN)]


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
