"""open_registry(settings): the one place that picks the registry backend."""

from __future__ import annotations

from badge.errors import ValidationError
from badge.registry import sqlite
from badge.registry.base import Registry
from badge.settings import POSTGRES_SCHEMES, Settings


def open_registry(settings: Settings) -> Registry:
    """SQLite for `sqlite:///path`, PostgreSQL for `postgresql://` or `postgres://`."""
    url = settings.database_url.reveal()
    if url.startswith(POSTGRES_SCHEMES):
        # Imported here: psycopg takes ~0.2 s to load, which SQLite runs and the CLI skip.
        from badge.registry.postgres import PostgresRegistry

        return PostgresRegistry(url)
    path = settings.sqlite_path
    if path is None:
        raise ValidationError("BADGE_DATABASE_URL must start with sqlite:/// or postgresql://")
    return sqlite.open_registry(path)


def registry_exists(settings: Settings) -> bool:
    """True when the configured registry is there already: the SQLite file, or the tables
    in PostgreSQL. An unreachable database counts as there: opening it says why it fails."""
    url = settings.database_url.reveal()
    if url.startswith(POSTGRES_SCHEMES):
        from badge.registry.postgres import has_schema

        try:
            return has_schema(url)
        except Exception:
            return True
    path = settings.sqlite_path
    return path is None or path.exists()
