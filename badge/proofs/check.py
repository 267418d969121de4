"""One ownership check: the TXT record first, then the well-known file; stored and logged.

Shared by `badge domains check`, the admin API and the background job, so all three record
the same thing. Checks block on the network: async callers run them in a worker thread.
"""

from __future__ import annotations

import logging
import ssl
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from badge.registry.base import Registry
from badge.registry.model import DomainProof, DomainStatus
from badge.registry.proofs import Outcome, challenge_value, dns_name, http_url, shown
from badge.settings import Settings

if TYPE_CHECKING:
    import dns.resolver

    from badge.proofs.fetch import FetchRules

logger = logging.getLogger("badge")


@dataclass(slots=True)
class ProofStats:
    """What this process's checks found, for /metrics (one owner: `Checker.record`)."""

    checks: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    # Domains in each proof state, as the registry last said (the background job asks).
    states: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Checked:
    proof: DomainProof
    before: DomainStatus

    @property
    def changed(self) -> bool:
        return self.proof.status != self.before

    @property
    def lost_now(self) -> bool:
        return self.before.state == "proven" and self.proof.status.state == "lost"


class Checker:
    def __init__(self, settings: Settings, ssl_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self.ssl_context = ssl_context
        self.interval = timedelta(seconds=settings.domain_check_interval)
        self.grace = timedelta(seconds=settings.domain_lost_grace)
        self.stats = ProofStats()
        self._network: tuple[dns.resolver.Resolver, FetchRules] | None = None

    def _resolver_and_rules(self) -> tuple[dns.resolver.Resolver, FetchRules]:
        # dnspython is loaded by the first check, not by every process that may check (a
        # sixth of a second of each start). Two threads' first checks may both build one.
        if self._network is None:
            from badge.proofs.fetch import FetchRules
            from badge.proofs.resolve import make_resolver

            settings = self.settings
            rules = FetchRules(
                allow_http=settings.proof_allow_http,
                allow_loopback=settings.proof_allow_loopback,
                port=settings.proof_file_port,
                ssl_context=self.ssl_context,
            )
            self._network = (make_resolver(settings), rules)
        return self._network

    def probe(self, domain: str, token: str) -> Outcome:
        """Look for the challenge: DNS, then the file. Never raises for what it finds."""
        from badge.proofs.fetch import Refused, fetch_file
        from badge.proofs.resolve import lookup_txt

        resolver, rules = self._resolver_and_rules()
        expected = challenge_value(token)
        txt = lookup_txt(resolver, dns_name(domain))
        if expected in txt.values:
            validated = " (DNSSEC validated)" if txt.ad else ""
            return Outcome("dns", f"TXT record found at {dns_name(domain)}{validated}", txt.ad)
        try:
            body = fetch_file(domain, resolver, rules)
        except Refused as exc:
            found = str(exc)
        else:
            if expected in (line.strip() for line in body.splitlines()):
                return Outcome("file", f"file found at {http_url(domain)}")
            found = f"{http_url(domain)} does not hold the challenge"
        return Outcome(None, f"not proven: {txt.detail}; {found}", txt.ad)

    def check(self, registry: Registry, shop_id: str, domain: str, *, actor: str) -> Checked:
        """Probe one domain and record the outcome in the registry (history included)."""
        proof = registry.domain_proof(shop_id, domain)
        outcome = self.probe(proof.domain, proof.token)
        after, before = registry.record_check(
            shop_id, proof.domain, outcome, actor=actor, interval=self.interval, grace=self.grace
        )
        checked = Checked(after, before)
        self.record(checked)
        return checked

    def record(self, checked: Checked) -> None:
        status = checked.proof.status
        self.stats.checks["proven" if status.state == "proven" else "failed"] += 1
        if checked.lost_now:
            # Once: only the check that turns a proof into `lost` gets here.
            self.stats.lost += 1
            logger.warning(
                "ownership proof LOST: %s of shop %s (%s); %s",
                status.domain,
                checked.proof.shop_id,
                shown(checked.before),
                checked.proof.result,
            )
