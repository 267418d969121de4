"""`badge domains`: what a shop publishes to prove a website is its own, the checks, an
operator's attestation, and the list of proofs that need attention."""

from __future__ import annotations

import click

from badge.cli.common import (
    actor,
    fail,
    friendly,
    load_settings,
    notify_change,
    registry_from_env,
    require,
)
from badge.cli.output import echo_json, echo_list, json_option
from badge.platform.timeutil import brussels_time
from badge.registry import proofs
from badge.registry.base import Registry
from badge.registry.model import DomainProof


@click.group()
def domains() -> None:
    """Prove that each registered website belongs to its shop."""


@domains.command("challenge")
@click.argument("shop_id")
@click.argument("domain")
@json_option
@friendly
def domains_challenge(shop_id: str, domain: str, as_json: bool) -> None:
    """What the shop publishes: a DNS TXT record, or the well-known file."""
    with registry_from_env() as registry:
        proof = registry.domain_proof(shop_id, domain)
    published = proofs.challenge(proof.domain, proof.token)
    if as_json:
        echo_json(published)
        return
    click.echo(f"Publish either of these for {proof.domain} (shop {shop_id}):")
    click.echo(f"  DNS TXT record  {published['dns_name']}")
    click.echo(f"      holding     {published['dns_value']}")
    click.echo(f"  or the file     {published['http_url']}")
    click.echo(f"      holding     {published['dns_value']}")
    click.echo(f"then run: badge domains check {shop_id} {proof.domain}")


@domains.command("check")
@click.argument("shop_id", required=False)
@click.argument("domain", required=False)
@friendly
def domains_check(shop_id: str | None, domain: str | None) -> None:
    """Check ownership now: every domain, one shop's, or one. Exits 0 only when every
    domain checked is proven."""
    from badge.proofs.check import Checker

    checker = Checker(load_settings())
    changed: list[str] = []
    all_proven = True
    with registry_from_env() as registry:
        for proof in _selected(registry, shop_id, domain):
            checked = checker.check(registry, proof.shop_id, proof.domain, actor=actor())
            after = checked.proof
            all_proven = all_proven and after.status.state == "proven"
            line = f"{after.shop_id}  {after.domain}  {proofs.shown(after.status)}"
            click.echo(f"{line}  ({after.result})")
            if checked.changed and after.shop_id not in changed:
                changed.append(after.shop_id)
    if changed:
        notify_change(*changed)
    raise SystemExit(0 if all_proven else 1)


def _selected(registry: Registry, shop_id: str | None, domain: str | None) -> list[DomainProof]:
    if domain is not None and shop_id is not None:
        return [registry.domain_proof(shop_id, domain)]
    if shop_id is not None:
        require(registry.get_shop(shop_id), "shop", shop_id)
    found = registry.domain_proofs(shop_id)
    if not found:
        fail("no domains to check")
    return found


@domains.command("attest")
@click.argument("shop_id")
@click.argument("domain")
@click.option(
    "--reason",
    required=True,
    help="How ownership was checked; kept in the history and shown on the verification page.",
)
@friendly
def domains_attest(shop_id: str, domain: str, reason: str) -> None:
    """Confirm ownership checked another way (a signed letter, the registrar's records).
    Audited, and shown as "confirmed by BeCommerce", never as a technical proof."""
    with registry_from_env() as registry:
        proof, before = registry.attest_domain(shop_id, domain, actor=actor(), reason=reason)
    notify_change(shop_id)
    click.echo(
        f"{shop_id}  {proof.domain}: {proofs.shown(before)} -> {proofs.shown(proof.status)} "
        f"by {proof.attested_by} ({reason})"
    )


@domains.command("list")
@click.option("--attention", is_flag=True, help="Only domains not proven (pending, lost, ...).")
@json_option
@friendly
def domains_list(attention: bool, as_json: bool) -> None:
    """Every registered domain with its ownership proof."""
    with registry_from_env() as registry:
        found = registry.domain_proofs()
    if attention:
        found = [p for p in found if p.status.state != "proven"]
    echo_list(found, as_json, "domain", _line, DomainProof.to_json)


def _line(proof: DomainProof) -> str:
    status = proof.status
    since = "" if status.since is None else f" since {brussels_time(status.since)}"
    checked = "never" if proof.checked_at is None else brussels_time(proof.checked_at)
    shown = f"{proofs.shown(status)}{since}"
    return f"{proof.shop_id}  {proof.domain:<30} {shown}  (last check: {checked})"
