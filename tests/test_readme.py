"""Drift guards: the README documents every setting and every command (datasette's idea)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from badge.cli import cli
from badge.settings import Setting, shown, table

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SETTING_NAMES = [row.name for row in table()]


def _plain(number: float) -> str:
    return f"{int(number):,}" if float(number).is_integer() else shown(number)


def allowed(row: Setting) -> str:
    """The README's "allowed" column, from the row's type and bounds."""
    if row.type is bool:
        return "`true` or `false` (also `1`/`0`, `yes`/`no`, `on`/`off`)"
    if row.within is not None:
        kind = "whole number" if row.type is int else "number"
        return f"{kind}, {_plain(row.within[0])} to {_plain(row.within[1])}"
    if row.choices:
        return ", ".join(f"`{choice}`" for choice in row.choices)
    if row.schemes:
        starts = " or ".join(f"`{scheme}…`" for scheme in row.schemes)
        return f"URLs, each {starts}" if row.type == tuple[str, ...] else starts
    return "a folder" if row.type is Path else "text"


def readme_row(row: Setting) -> str:
    value = shown(row.default)
    default = f"`{row.shown_default or value}`" if row.shown_default or value else "unset"
    cells = [f"`{row.name}`", default, allowed(row), row.help]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def readme_settings_rows() -> list[str]:
    return [line for line in README.splitlines() if line.startswith("| `BADGE_")]


def _commands(group: click.Group, prefix: str = "badge") -> list[str]:
    found: list[str] = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found.extend(_commands(command, path))
        else:
            found.append(path)
    return found


COMMANDS = _commands(cli)


def test_the_guards_see_something() -> None:
    # If the table or the walk broke, the tests below would pass vacuously.
    assert {"BADGE_HOST", "BADGE_PORT", "BADGE_DATABASE_URL", "BADGE_REDIS_URL"} <= set(
        SETTING_NAMES
    )
    assert len(readme_settings_rows()) == len(SETTING_NAMES)
    assert {"badge serve", "badge demo", "badge shops add", "badge keys rotate"} <= set(COMMANDS)


def test_readme_settings_table_is_the_settings_table() -> None:
    """Each README row is rendered from its row of badge/settings.py; on a change, paste these."""
    expected = [readme_row(row) for row in table()]
    assert readme_settings_rows() == expected, "\n" + "\n".join(expected)


def test_readme_documents_no_phantom_settings() -> None:
    documented = set(re.findall(r"`(BADGE_[A-Z0-9_]+)`", README))
    assert documented - set(SETTING_NAMES) == set()


@pytest.mark.parametrize("command", COMMANDS)
def test_command_is_documented(command: str) -> None:
    pattern = re.compile(rf"`{re.escape(command)}(?=[`\s\[])")
    assert pattern.search(README), f"`{command}` is a CLI command but not in README.md"


def test_readme_pictures_are_committed_pngs() -> None:
    pictures = re.findall(r"!\[[^\]]+\]\((docs/[^)]+)\)", README)
    assert len(pictures) >= 8
    for picture in pictures:
        data = (ROOT / picture).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n"), picture
