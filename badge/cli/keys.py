"""`badge keys`: the Ed25519 signing keys in BADGE_KEYS_DIR."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from badge.cli.common import friendly, load_settings
from badge.platform.timeutil import brussels_time

if TYPE_CHECKING:
    from badge.signing import KeyStore


@click.group()
def keys() -> None:
    """Manage the Ed25519 signing keys in BADGE_KEYS_DIR."""


def _store(*, ensure: bool) -> KeyStore:
    """The keys in BADGE_KEYS_DIR; `ensure` makes the first key when there is none."""
    from badge.signing import KeyStore

    settings = load_settings()
    store = KeyStore(settings.keys_dir, token_ttl=settings.token_ttl)
    if ensure:
        store.ensure()
    return store


@keys.command("generate")
@friendly
def keys_generate() -> None:
    """Make the first signing key (nothing happens when one exists)."""
    record, made = _store(ensure=False).generate()
    click.echo(("generated " if made else "already have ") + f"signing key {record.kid}")


@keys.command("rotate")
@friendly
def keys_rotate() -> None:
    """Make a new signing key; old public keys stay published until their badges expire."""
    record = _store(ensure=True).rotate()
    click.echo(f"signing with new key {record.kid}")


@keys.command("list")
@friendly
def keys_list() -> None:
    """List keys: which one signs, which are still published."""
    from datetime import UTC, datetime

    store = _store(ensure=True)
    published = {r.kid for r in store.published()}
    for record in store.records:
        role = (
            "signing"
            if record.kid == store.signing_kid
            else ("published" if record.kid in published else "retired")
        )
        created = brussels_time(datetime.fromtimestamp(record.created_at, UTC))
        click.echo(f"{record.kid}  {role:<9}  created {created}")
