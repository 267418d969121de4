"""The `badge` command: one group per noun, a one-line reason and non-zero exit on bad input.

Each module holds one noun's commands; heavy imports (uvicorn, the app, the renderer) wait
inside the commands that need them, so `badge --help` and a refused start stay quick.
"""

from __future__ import annotations

import click

from badge.cli.checkbadge import verify
from badge.cli.demo import demo
from badge.cli.domains import domains
from badge.cli.keys import keys
from badge.cli.render import render
from badge.cli.reports import reports
from badge.cli.serve import serve
from badge.cli.settings import settings
from badge.cli.shops import shops
from badge.cli.tokens import tokens

__all__ = ["cli", "main"]


@click.group()
@click.version_option(package_name="keurmerk-badge")
def cli() -> None:
    """The BeCommerce Keurmerk badge service."""


for command in (serve, demo, shops, domains, keys, tokens, render, verify, reports, settings):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="badge")
