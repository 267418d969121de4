"""Domain ownership proofs: the challenge a shop publishes, and how a check moves a proof.

Pure: no I/O. The checks themselves (DNS, the well-known file) are in badge/proofs/; the
registry stores what this module decides, in one write transaction per check.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from badge.registry.model import DomainStatus, ProofMethod

CHALLENGE_PREFIX: Final = "keurmerk-site-verification="
DNS_LABEL: Final = "_keurmerk"
WELL_KNOWN_PATH: Final = "/.well-known/keurmerk-badge.txt"
# A check that is running holds its domain this long; if its instance dies, another takes it.
CHECK_LEASE: Final = timedelta(minutes=10)


def new_token() -> str:
    """160 random bits, hex: safe in a TXT record, a file and a URL alike."""
    return secrets.token_hex(20)


def challenge_value(token: str) -> str:
    return CHALLENGE_PREFIX + token


def dns_name(domain: str) -> str:
    return f"{DNS_LABEL}.{domain}"


def http_url(domain: str) -> str:
    return f"https://{domain}{WELL_KNOWN_PATH}"


def challenge(domain: str, token: str) -> dict[str, str]:
    """What to publish, one way or the other: the TXT record, or the file."""
    value = challenge_value(token)
    return {
        "dns_name": dns_name(domain),
        "dns_value": value,
        "http_url": http_url(domain),
        "http_body": value + "\n",
    }


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one check found: proven by `method`, or not (`method` None), and why."""

    method: ProofMethod | None
    detail: str
    # The DNSSEC AD flag of the TXT answer, when the resolver set it (None: no answer read).
    ad: bool | None = None

    @property
    def proven(self) -> bool:
        return self.method is not None


def after_check(current: DomainStatus, outcome: Outcome, now: datetime) -> DomainStatus:
    """The proof after a check.

    A technical proof (DNS or file) always wins, and replaces an attestation. A failure
    loses only a technical proof: an attestation, a domain registered before proofs and a
    pending one stay as they were, and a lost proof keeps the time it was lost.
    """
    if outcome.method is not None:
        if current.state == "proven" and current.method == outcome.method:
            return current
        return DomainStatus(current.domain, "proven", outcome.method, now)
    if current.state == "proven" and current.method in ("dns", "file"):
        return DomainStatus(current.domain, "lost", current.method, now)
    return current


# The reason `badge demo` attests its fictitious shops' websites with. The history keeps it
# for operators; the verification page recognises it and says so in the visitor's language
# rather than quoting it.
DEMO_ATTESTATION: Final = "demo data: a fictitious shop whose websites were not checked"


def attested(current: DomainStatus, now: datetime, reason: str) -> DomainStatus:
    """An operator's attestation: proven, by BeCommerce, as of now, saying how."""
    return DomainStatus(current.domain, "proven", "attested", now, reason)


def next_check(
    status: DomainStatus, now: datetime, interval: timedelta, grace: timedelta
) -> datetime:
    """When to check again: after the interval, or at the end of a lost proof's grace
    period if that comes first, so the badge and the edge learn of it then."""
    due = now + interval
    if status.state == "lost" and status.since is not None:
        end = status.since + grace
        if now < end < due:
            return end
    return due


def grace_ended(
    status: DomainStatus, before: datetime | None, now: datetime, grace: timedelta
) -> bool:
    """True when a lost proof's grace period ended between the last check and this one:
    the shop's badges change then, though the proof's state does not."""
    if status.state != "lost" or status.since is None:
        return False
    end = status.since + grace
    return (before is None or before <= end) and end <= now


def shown(status: DomainStatus) -> str:
    """A proof in a few words, for the history and the CLI: `proven (dns)`, `pending`."""
    if status.state == "registered_before_proofs":
        return "registered before proofs"
    if status.method is None:
        return status.state
    return f"{status.state} ({status.method})"
