"""Settings, read once from BADGE_* environment variables into one immutable object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

# The URL forms libpq accepts; anything else (such as SQLAlchemy's postgresql+psycopg://)
# is refused at start rather than at the first query.
POSTGRES_SCHEMES: Final = ("postgresql://", "postgres://")


class SettingsError(ValueError):
    """A BADGE_* variable has a value we cannot use; the message names it."""


class Secret:
    """Holds a value that must never be printed or logged."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def redact_url(url: str) -> str:
    """A URL safe to print: the password, if any, replaced."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    database_url: Secret = field(default_factory=lambda: Secret("sqlite:///./var/badge.db"))
    redis_url: Secret | None = None
    keys_dir: Path = Path("./var/keys")
    public_url: str = "http://127.0.0.1:8000"
    max_age: int = 240
    stale_while_revalidate: int = 60
    token_ttl: int = 86_400
    stale_limit: float = 60.0
    redis_timeout: float = 0.25
    poll_interval: float = 0.25
    render_processes: int = 1
    access_log: bool = False
    log_level: str = "info"
    # Overload and slow clients (badge serve): see badge/server.py.
    limit_concurrency: int = 4096
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    # Requests per client per window; 0 turns a limit off. See badge/ratelimit.py.
    rate_window: int = 60
    rate_uploads: int = 30
    rate_lookups: int = 300
    rate_admin: int = 1200
    rate_reports: int = 5
    # Proxies (the edge) whose X-Forwarded-For names the real client: rate limits and logs
    # then count consumers, not the edge. Empty: trust no proxy header.
    forwarded_allow_ips: str = ""
    complaints_url: str = "https://www.becommerce.be/"
    # Edge caches (Varnish and the like) purged by surrogate key on every state change.
    purge_urls: tuple[str, ...] = ()

    @property
    def sqlite_path(self) -> Path | None:
        url = self.database_url.reveal()
        if url.startswith("sqlite:///"):
            return Path(url.removeprefix("sqlite:///"))
        return None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        base = cls()
        host = reader.text("BADGE_HOST", base.host)
        port = reader.integer("BADGE_PORT", base.port, low=1, high=65535)
        public_default = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
        database_url = reader.text("BADGE_DATABASE_URL", "sqlite:///./var/badge.db")
        if not database_url.startswith(("sqlite:///", *POSTGRES_SCHEMES)):
            raise SettingsError(
                "BADGE_DATABASE_URL must start with sqlite:///, postgresql:// or postgres://, "
                f"got {redact_url(database_url)!r}"
            )
        redis_url = reader.text("BADGE_REDIS_URL", "")
        if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(
                "BADGE_REDIS_URL must start with redis://, rediss:// or unix://, "
                f"got {redact_url(redis_url)!r}"
            )
        public_url = reader.text("BADGE_PUBLIC_URL", public_default).rstrip("/")
        if not public_url.startswith(("http://", "https://")):
            raise SettingsError(f"BADGE_PUBLIC_URL must be an http(s) URL, got {public_url!r}")
        log_level = reader.text("BADGE_LOG_LEVEL", base.log_level).lower()
        if log_level not in _LOG_LEVELS:
            raise SettingsError(
                f"BADGE_LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, got {log_level!r}"
            )
        complaints_url = reader.text("BADGE_COMPLAINTS_URL", base.complaints_url)
        if not complaints_url.startswith(("https://", "http://")):
            raise SettingsError(
                f"BADGE_COMPLAINTS_URL must be an http(s) URL, got {complaints_url!r}"
            )
        purge_urls = tuple(reader.text("BADGE_PURGE_URLS", "").replace(",", " ").split())
        for url in purge_urls:
            if not url.startswith(("http://", "https://")):
                raise SettingsError(
                    f"BADGE_PURGE_URLS must list http(s) URLs, got {redact_url(url)!r}"
                )
        return cls(
            host=host,
            port=port,
            workers=reader.integer("BADGE_WORKERS", base.workers, low=1, high=64),
            database_url=Secret(database_url),
            redis_url=Secret(redis_url) if redis_url else None,
            keys_dir=Path(reader.text("BADGE_KEYS_DIR", "./var/keys")),
            public_url=public_url,
            max_age=reader.integer("BADGE_MAX_AGE", base.max_age, low=0, high=86_400),
            stale_while_revalidate=reader.integer(
                "BADGE_STALE_WHILE_REVALIDATE", base.stale_while_revalidate, low=0, high=86_400
            ),
            token_ttl=reader.integer("BADGE_TOKEN_TTL", base.token_ttl, low=60, high=30 * 86_400),
            stale_limit=reader.number("BADGE_STALE_LIMIT", base.stale_limit, low=1, high=3600),
            redis_timeout=reader.number(
                "BADGE_REDIS_TIMEOUT", base.redis_timeout, low=0.01, high=10
            ),
            poll_interval=reader.number(
                "BADGE_POLL_INTERVAL", base.poll_interval, low=0.05, high=5
            ),
            render_processes=reader.integer(
                "BADGE_RENDER_PROCESSES", base.render_processes, low=0, high=16
            ),
            access_log=reader.boolean("BADGE_ACCESS_LOG", base.access_log),
            log_level=log_level,
            limit_concurrency=reader.integer(
                "BADGE_LIMIT_CONCURRENCY", base.limit_concurrency, low=10, high=1_000_000
            ),
            header_timeout=reader.number(
                "BADGE_HEADER_TIMEOUT", base.header_timeout, low=0.5, high=300
            ),
            body_timeout=reader.number("BADGE_BODY_TIMEOUT", base.body_timeout, low=0.5, high=600),
            rate_window=reader.integer("BADGE_RATE_WINDOW", base.rate_window, low=1, high=3600),
            rate_uploads=reader.integer(
                "BADGE_RATE_UPLOADS", base.rate_uploads, low=0, high=1_000_000
            ),
            rate_lookups=reader.integer(
                "BADGE_RATE_LOOKUPS", base.rate_lookups, low=0, high=1_000_000
            ),
            rate_admin=reader.integer("BADGE_RATE_ADMIN", base.rate_admin, low=0, high=1_000_000),
            rate_reports=reader.integer(
                "BADGE_RATE_REPORTS", base.rate_reports, low=0, high=1_000_000
            ),
            complaints_url=complaints_url,
            purge_urls=purge_urls,
            forwarded_allow_ips=reader.text("BADGE_FORWARDED_ALLOW_IPS", base.forwarded_allow_ips),
        )


_LOG_LEVELS: Final = ("critical", "error", "warning", "info", "debug")
_TRUE: Final = {"1", "true", "yes", "on"}
_FALSE: Final = {"0", "false", "no", "off", ""}


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, default: str) -> str:
        value = self.env.get(name)
        return default if value is None or value.strip() == "" else value.strip()

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        raw = self.env.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
        if not low <= value <= high:
            raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
        return value

    def number(self, name: str, default: float, *, low: float, high: float) -> float:
        raw = self.env.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = float(raw.strip())
        except ValueError:
            raise SettingsError(f"{name} must be a number, got {raw!r}") from None
        if not low <= value <= high:
            raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.env.get(name)
        if raw is None:
            return default
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise SettingsError(f"{name} must be true or false, got {raw!r}")
