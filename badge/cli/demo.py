"""`badge demo`: demo shops, one in each state, seeded idempotently."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click

from badge.cli.common import friendly, load_settings, registry_from_env
from badge.platform.timeutil import today
from badge.registry import rules
from badge.registry.base import Registry
from badge.registry.model import Shop
from badge.registry.proofs import DEMO_ATTESTATION
from badge.settings import redact_url


def _enterprise_number(body: int) -> str:
    digits = f"{body:08d}{97 - body % 97:02d}"
    return f"{digits[:4]}.{digits[4:7]}.{digits[7:]}"


DEMO_SHOPS: tuple[dict[str, Any], ...] = (
    {
        "display_name": "Bakkerij Demo",
        "legal_name": "Bakkerij Demo BV",
        "enterprise_number": _enterprise_number(4_511_223),
        "domains": ["bakkerij-demo.be", "www.boulangerie-demo.be"],
        "categories": ["b2c_member", "sponsor"],
        "state": "certified",
        "valid_for_days": 365,
    },
    {
        "display_name": "Fietsen Plus",
        "legal_name": "Fietsen Plus NV",
        "enterprise_number": _enterprise_number(7_734_118),
        "domains": ["fietsenplus-demo.be"],
        "categories": ["b2c_member"],
        "state": "suspended",
        "valid_for_days": 200,
    },
    {
        "display_name": "Gadget Outlet",
        "legal_name": "Gadget Outlet SRL",
        "enterprise_number": _enterprise_number(8_620_904),
        "domains": ["gadget-outlet-demo.be"],
        "categories": ["b2c_member", "b2b_member"],
        "state": "revoked",
        "valid_for_days": 100,
    },
    {
        "display_name": "Librairie Exemple",
        "legal_name": "Librairie Exemple SA",
        "enterprise_number": _enterprise_number(10_456_789),
        "domains": ["librairie-exemple.be"],
        "categories": ["webshop_partner"],
        "state": "certified",
        "valid_for_days": -10,
    },
)


@click.command()
@friendly
def demo() -> None:
    """Seed demo shops, one in each state (idempotent); print their ids and URLs to try."""
    settings = load_settings()
    with registry_from_env(create=True) as registry:
        shops = _seed_demo(registry)
    base = settings.public_url
    certified = next(shop for shop in shops if shop.public_state(today()) == "certified")
    click.echo(
        f"try: {base}/  (home page)\n"
        f"     {base}/v/{certified.id}  (verification page)\n"
        f"     {base}/b/{certified.id}.svg  (badge; .png, ?lang=fr, ?size=l)\n"
        f"     {base}/embed/{certified.id}  (embed code)\n"
        f"registry {redact_url(settings.database_url.reveal())}, keys in {settings.keys_dir}",
        err=True,
    )


def _seed_demo(registry: Registry) -> list[Shop]:
    seeded = []
    for spec in DEMO_SHOPS:
        existing = registry.find_by_domain(spec["domains"][0])
        if existing is None:
            new = rules.validate_new_shop(
                display_name=spec["display_name"],
                legal_name=spec["legal_name"],
                enterprise_number=spec["enterprise_number"],
                domains=spec["domains"],
                categories=spec["categories"],
                state="certified",
                certified_since=(today() - timedelta(days=400)).isoformat(),
                valid_until=(today() + timedelta(days=spec["valid_for_days"])).isoformat(),
                last_audit=(today() - timedelta(days=60)).isoformat(),
                today=today(),
            )
            existing = registry.create_shop(new, actor="demo")
            if spec["state"] != "certified":
                registry.set_state(existing.id, spec["state"], reason="demo data", actor="demo")
                existing = registry.get_shop(existing.id) or existing
        _attest_demo_domains(registry, existing)
        existing = registry.get_shop(existing.id) or existing
        state = existing.public_state(today())
        click.echo(f"{existing.id}  {state:<10} {existing.display_name} ({existing.domains[0]})")
        seeded.append(existing)
    return seeded


def _attest_demo_domains(registry: Registry, shop: Shop) -> None:
    """What the verification page of a demo shop says about its websites is true: nobody
    proved them, the demo data vouches for them, and the history says so. A demo registry
    seeded with older wording gets the current one."""
    for proof in registry.domain_proofs(shop.id):
        reworded = proof.attested_by == "demo" and proof.status.note != DEMO_ATTESTATION
        if proof.status.state != "proven" or reworded:
            registry.attest_domain(shop.id, proof.domain, actor="demo", reason=DEMO_ATTESTATION)
