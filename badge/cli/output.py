"""How `badge` commands print records: lines for people, or JSON with `--json`."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TypeVar

import click

T = TypeVar("T")

# The `--json` flag of the commands that list or show records.
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def echo_list(
    found: Sequence[T],
    as_json: bool,
    noun: str,
    line: Callable[[T], str],
    json_of: Callable[[T], object],
) -> None:
    """A listing: a JSON array with --json, else a line a record and the count on stderr
    (so the lines alone can be piped on)."""
    if as_json:
        echo_json([json_of(item) for item in found])
        return
    for item in found:
        click.echo(line(item))
    click.echo(f"{len(found)} {noun}(s)", err=True)
