"""`badge tokens`: bearer tokens for the operators' admin API."""

from __future__ import annotations

import secrets

import click

from badge.cli.common import friendly, registry_from_env
from badge.registry import rules


@click.group()
def tokens() -> None:
    """Bearer tokens for the operators' admin API."""


@tokens.command("create")
@click.argument("name")
@friendly
def tokens_create(name: str) -> None:
    """Create a token; it is printed once, alone on the last line, and stored only hashed."""
    from badge.admin.auth import token_digest

    clean = rules.clean_text(name, "token name", limit=100)
    token = "bkt_" + secrets.token_urlsafe(32)
    with registry_from_env() as registry:
        registry.add_token(clean, token_digest(token))
    click.echo(f"created token {clean!r}; store it now, it is not shown again:")
    click.echo(token)
