"""Drift guards: the README documents every setting and every command (datasette's idea)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

import badge.settings
from badge.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SETTINGS_SOURCE = Path(badge.settings.__file__).read_text(encoding="utf-8")
SETTING_NAMES = sorted(set(re.findall(r"\bBADGE_[A-Z0-9_]*[A-Z0-9]\b", SETTINGS_SOURCE)))


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
    # If the regex or the walk broke, the parametrised tests below would pass vacuously.
    assert {"BADGE_HOST", "BADGE_PORT", "BADGE_DATABASE_URL", "BADGE_REDIS_URL"} <= set(
        SETTING_NAMES
    )
    assert {"badge serve", "badge demo", "badge shops add", "badge keys rotate"} <= set(COMMANDS)


@pytest.mark.parametrize("name", SETTING_NAMES)
def test_setting_is_documented(name: str) -> None:
    assert f"`{name}`" in README, f"{name} is read in badge/settings.py but not in README.md"


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
