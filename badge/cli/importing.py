"""Reading a CSV or JSON file of shops for `badge shops import`: every row checked first."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from badge.cli.common import actor, fail
from badge.errors import BadgeError, Conflict, ValidationError
from badge.platform.timeutil import today
from badge.registry import rules
from badge.registry.base import Registry
from badge.registry.model import NewShop, Shop


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, row). JSON rows count from 1, CSV rows by their file line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationError(f"{path}: not UTF-8 text (bad byte at {exc.start})") from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, list):
            raise ValidationError(f"{path}: expected a JSON list of shops")
        for index, item in enumerate(data, start=1):
            if not isinstance(item, dict):
                raise ValidationError(f"{path}: item {index} is not an object")
            yield index, item
        return
    reader = csv.DictReader(io.StringIO(text))
    missing = {"name", "legal_name", "enterprise_number", "domains"} - set(reader.fieldnames or ())
    if missing:
        raise ValidationError(f"{path}: CSV header lacks {', '.join(sorted(missing))}")
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:
        raise ValidationError(f"{path}: line {reader.line_num}: not valid CSV ({exc})") from None


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [part for part in str(value).replace(";", " ").replace(",", " ").split() if part]


def import_file(registry: Registry, file: Path) -> list[Shop]:
    valid: list[tuple[int, NewShop]] = []
    problems: list[str] = []
    claimed: dict[str, int] = {}
    day = today()
    for line, row in _rows(file):
        try:
            new = rules.validate_new_shop(
                display_name=str(row.get("name") or ""),
                legal_name=str(row.get("legal_name") or ""),
                enterprise_number=str(row.get("enterprise_number") or ""),
                domains=_split(row.get("domains")),
                categories=_split(row.get("categories")),
                state=str(row.get("state") or "certified"),
                certified_since=row.get("certified_since") or None,
                valid_until=row.get("valid_until") or None,
                last_audit=row.get("last_audit") or None,
                today=day,
            )
            for domain in new.domains:
                if domain in claimed:
                    raise Conflict(f"domain {domain} also appears on line {claimed[domain]}")
                holder = registry.find_by_domain(domain)
                if holder is not None:
                    raise Conflict(f"domain {domain} is already registered to shop {holder.id}")
                claimed[domain] = line
            valid.append((line, new))
        except BadgeError as exc:
            problems.append(f"line {line}: {exc.message}")
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        fail(f"{len(problems)} bad row(s) in {file}; nothing was imported")
    if not valid:
        fail(f"{file} has no shops to import")
    with click.progressbar(length=len(valid), label="importing", file=sys.stderr) as bar:
        return registry.import_shops([n for _, n in valid], actor=actor(), progress=bar.update)
