"""`badge settings`: the effective settings, as `badge serve` would read them, secrets masked."""

from __future__ import annotations

import os

import click

from badge.cli.common import load_settings
from badge.settings import given, shown, table


@click.command("settings")
def settings() -> None:
    """Print the effective BADGE_* settings (from the environment), with secrets masked."""
    effective = load_settings()
    from_env = {row.name for row, _ in given(os.environ)}
    for row in table():
        origin = "" if row.name in from_env else "  (default)"
        click.echo(f"{row.name}={shown(getattr(effective, row.attr))}{origin}")
