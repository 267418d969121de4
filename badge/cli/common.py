"""What every `badge` command shares: settings, the registry, one-line errors, notices."""

from __future__ import annotations

import functools
import getpass
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn, ParamSpec, TypeVar

import click

from badge.errors import BadgeError
from badge.registry.base import Registry
from badge.registry.factory import open_registry, registry_exists
from badge.settings import Settings, SettingsError, redact_url

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def actor() -> str:
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"cli:{user}"


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(1)


def require(found: T | None, what: str, ident: str) -> T:
    """`found`, or exit 1 saying that no `what` has the id `ident`."""
    if found is None:
        fail(f"no {what} with id {ident!r}")
    return found


def friendly(func: Callable[P, R]) -> Callable[P, R]:
    """Turn our errors into a one-line reason and exit 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (BadgeError, SettingsError) as exc:
            fail(str(exc))
            raise  # unreachable, keeps mypy happy

    return wrapper


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        fail(str(exc))
        raise


@contextmanager
def registry_from_env(*, create: bool = False) -> Iterator[Registry]:
    """The configured registry. Only commands that add shops may make a new SQLite file:
    a read in the wrong folder must say so, not answer from an empty registry it just made."""
    settings = load_settings()
    if not create:
        require_registry(settings)
    registry = open_registry(settings)
    try:
        yield registry
    finally:
        registry.close()


def require_registry(settings: Settings) -> None:
    if registry_exists(settings):
        return
    path = settings.sqlite_path
    if path is None:
        fail(
            f"no registry in {redact_url(settings.database_url.reveal())} (BADGE_DATABASE_URL): "
            "the database has no Keurmerk tables; point BADGE_DATABASE_URL at the service's "
            "database, or start one with `badge serve`, `badge demo` or `badge shops add`"
        )
        return
    fail(
        f"no registry at {path.absolute()} (BADGE_DATABASE_URL is "
        f"{redact_url(settings.database_url.reveal())}, relative to the current folder); "
        "run this where the service runs, or point BADGE_DATABASE_URL at its registry, e.g. "
        "BADGE_DATABASE_URL=sqlite:////path/to/the/service/var/badge.db; "
        "`badge demo`, `badge shops add` and `badge shops import` start a new one"
    )


def notify_change(*shop_ids: str) -> None:
    """Tell running instances through Redis, when configured; the registry feed covers the rest.

    Every running instance purges the edge caches once it has dropped its own copy; the CLI
    purges them as well, so a change made while no instance runs is purged too.
    """
    settings = load_settings()
    if settings.redis_url is not None:
        from badge.platform.bus import publish_invalidation_sync

        try:
            for shop_id in shop_ids:
                publish_invalidation_sync(settings, shop_id)
        except Exception as exc:
            click.echo(
                f"warning: change saved, but Redis could not be told ({type(exc).__name__}); "
                "instances pick it up from the registry feed",
                err=True,
            )
    if settings.purge_urls:
        from badge.platform.purge import purge_now

        failed = purge_now(settings.purge_urls, shop_ids)
        if failed:
            click.echo(
                f"warning: change saved, but the edge cache at {', '.join(failed)} could not be "
                "purged now; running instances purge it when they learn of the change",
                err=True,
            )
