"""Settings, read once from BADGE_* environment variables into one immutable object.

`Settings` is the settings table: each field is a row that holds the variable's name (the
field's, in capitals, after `BADGE_`), its type (the annotation), its default, its bounds
and its help text. `from_env`, `badge settings` and the README's table all read that table.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar, cast, get_type_hints

from badge.platform.secret import Secret, redact_url

__all__ = ["Secret", "Setting", "Settings", "SettingsError", "redact_url"]

# The URL forms libpq accepts; anything else (such as SQLAlchemy's postgresql+psycopg://)
# is refused at start rather than at the first query.
POSTGRES_SCHEMES: Final = ("postgresql://", "postgres://")
HTTP_SCHEMES: Final = ("http://", "https://")
LOG_LEVELS: Final = ("critical", "error", "warning", "info", "debug")

T = TypeVar("T")


class SettingsError(ValueError):
    """A BADGE_* variable has a value we cannot use; the message names it."""


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the settings table."""

    attr: str
    type: Any
    default: object
    help: str
    # Inclusive bounds of a number.
    within: tuple[float, float] | None = None
    # What a URL, or each URL of a list, must start with.
    schemes: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    # The default as the README states it, when other settings derive it.
    shown_default: str | None = None
    # A regular expression each item of a list must match, and what it means in words.
    item: tuple[str, str] | None = None

    @property
    def name(self) -> str:
        return f"BADGE_{self.attr.upper()}"


def setting(
    default: T,
    help: str,
    *,
    within: tuple[float, float] | None = None,
    schemes: tuple[str, ...] = (),
    choices: tuple[str, ...] = (),
    shown_default: str | None = None,
    item: tuple[str, str] | None = None,
) -> T:
    """A field of `Settings` with its row of the table (typed as its default, for mypy)."""
    row: dict[str, object] = {"help": help, "within": within, "schemes": schemes}
    row |= {"choices": choices, "shown_default": shown_default, "item": item}
    return dataclasses.field(default=default, metadata=row)


def rate_limit(default: int, what: str) -> int:
    """The row of one rate limit: how many requests of `what` a client may send a window."""
    return setting(default, f"{what} per client per window; `0` is no limit", within=(0, 1_000_000))


SERVE = "`badge serve`"
# Immutable defaults, named so the table below reads as values.
SQLITE_DEFAULT: Final = Secret("sqlite:///./var/badge.db")
KEYS_DEFAULT: Final = Path("./var/keys")
# An IPv4 address or a bracketed IPv6 one, then a port: what BADGE_DNS_RESOLVER lists.
HOST_PORT: Final = (r"(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d{1,5}", "host:port")
TEST_ONLY = "for tests only; never in production"
# A revocation reaches every browser within a minute: max-age + stale-while-revalidate.
BROWSER_STALENESS: Final = 60


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = setting("127.0.0.1", f"interface {SERVE} and `make run` bind to")
    port: int = setting(8000, f"port {SERVE} and `make run` listen on", within=(1, 65535))
    workers: int = setting(1, f"uvicorn worker processes for {SERVE}", within=(1, 64))
    database_url: Secret = setting(
        SQLITE_DEFAULT,
        "the registry: `sqlite:///path` for one machine, or "
        "`postgresql://user:password@host:5432/db` (also `postgres://`) shared by several "
        "instances",
        schemes=("sqlite:///", *POSTGRES_SCHEMES),
    )
    redis_url: Secret | None = setting(
        None,
        "`redis://…`; unset means one instance with its in-process cache only",
        schemes=("redis://", "rediss://", "unix://"),
    )
    keys_dir: Path = setting(
        KEYS_DEFAULT,
        "Ed25519 signing keys (files 0600); a key is made on first start. A private key that "
        "group or others may read stops the service and every CLI command that loads keys, "
        "with the `chmod 600 …` that fixes it",
    )
    public_url: str = setting(
        "http://127.0.0.1:8000",
        "the URL badges link to and the JWS issuer (`iss`)",
        schemes=HTTP_SCHEMES,
        shown_default="http://BADGE_HOST:BADGE_PORT",
    )
    max_age: int = setting(
        30,
        "`Cache-Control: max-age` of badge images for browsers, in seconds; with "
        f"`BADGE_STALE_WHILE_REVALIDATE` at most {BROWSER_STALENESS} in all, so every browser "
        "sees a state change within a minute",
        within=(0, BROWSER_STALENESS),
    )
    stale_while_revalidate: int = setting(
        30,
        "`stale-while-revalidate` of badge images, in seconds; with `BADGE_MAX_AGE` at most "
        f"{BROWSER_STALENESS} in all",
        within=(0, BROWSER_STALENESS),
    )
    edge_max_age: int = setting(
        3600,
        "how long the edge keeps a badge, in seconds (`Surrogate-Control: max-age`, which "
        "Varnish and Fastly read and strip); the edge is purged on every change and answers "
        "browsers' revalidations itself. `0` sends no Surrogate-Control",
        within=(0, 86_400),
    )
    token_ttl: int = setting(
        86_400,
        "lifetime of the JWS baked into a badge, in seconds (re-signed at half-life)",
        within=(60, 30 * 86_400),
    )
    stale_limit: float = setting(
        60.0,
        "how long cached states are trusted while the change feed (Redis or the registry) is "
        "down; after that the badge turns neutral",
        within=(1, 3600),
    )
    redis_timeout: float = setting(
        0.25, "connect and socket timeout for Redis, in seconds", within=(0.01, 10)
    )
    poll_interval: float = setting(
        0.25,
        "how often each instance reads the registry's change feed, in seconds",
        within=(0.05, 5),
    )
    render_processes: int = setting(
        1,
        "worker processes that rasterise new PNG variants, so a burst of renders never stalls "
        "warm badges; `0` renders in threads",
        within=(0, 16),
    )
    access_log: bool = setting(
        False, "uvicorn access log; off by default because it halves badge throughput"
    )
    log_level: str = setting("info", "how much the service logs", choices=LOG_LEVELS)
    # Overload and slow clients (badge serve): see badge/platform/server.py.
    limit_concurrency: int = setting(
        4096,
        f"{SERVE}: open connections plus running requests past which a new request gets an "
        "immediate `503` (`Retry-After: 1`, `Cache-Control: no-store`) instead of queueing",
        within=(10, 1_000_000),
    )
    header_timeout: float = setting(
        10.0,
        f"{SERVE}: seconds a client has to send its request line and headers, from connecting "
        "(or, on a kept-alive connection, from the first byte of its next request); then `408` "
        "and the connection is closed. Checked once a second, so the cut may come a second or "
        "two late",
        within=(0.5, 300),
    )
    body_timeout: float = setting(
        30.0,
        f"{SERVE}: seconds a client has to send a request body once its headers are in; then "
        "the connection is closed",
        within=(0.5, 600),
    )
    # Requests per client per window; 0 turns a limit off. See badge/platform/ratelimit.py.
    rate_window: int = setting(
        60, "length of a rate-limit window, in seconds (fixed windows)", within=(1, 3600)
    )
    rate_uploads: int = rate_limit(30, "badge checks (`POST /verify`, `POST /api/v1/verify`)")
    rate_lookups: int = rate_limit(300, "lookups (`GET /verify?domain=|q=`, `GET /api/v1/lookup`)")
    rate_admin: int = rate_limit(
        1200, "admin API requests (`/admin/api/v1/...`, counted before authentication)"
    )
    rate_reports: int = rate_limit(5, 'consumer reports ("report this site")')
    forwarded_allow_ips: str = setting(
        "",
        "proxies (the edge) whose `X-Forwarded-For` names the real client, comma-separated IPs "
        "or networks, `*` for any; unset trusts none. Behind Varnish, set it to the edge's "
        "address so rate limits count consumers, not the edge",
    )
    complaints_url: str = setting(
        "https://www.becommerce.be/",
        'where the "file a complaint" link on the verification page points (BeCommerce\'s '
        "complaint form)",
        schemes=HTTP_SCHEMES,
    )
    purge_urls: tuple[str, ...] = setting(
        (),
        "edge caches to purge on every state change, separated by spaces or commas, e.g. "
        "`http://varnish:80/`; each gets `PURGE` with the shop's surrogate key in `xkey-purge` "
        "(see `docs/operations.md`)",
        schemes=HTTP_SCHEMES,
    )
    # Domain ownership proofs: see badge/proofs/ and the README's "Domain ownership".
    dns_resolver: tuple[str, ...] = setting(
        (),
        "DNS servers for ownership checks, as `host:port` separated by spaces or commas "
        "(e.g. `127.0.0.1:5353`; IPv6 as `[::1]:53`), for tests and split-horizon DNS; unset "
        "means the system resolver",
        item=HOST_PORT,
    )
    dns_timeout: float = setting(
        3.0, "how long one ownership lookup may take, in seconds", within=(0.1, 30)
    )
    domain_check_interval: int = setting(
        86_400,
        "how often each domain's ownership proof is checked again, in seconds; new domains "
        "are checked within a minute. One instance at a time checks a domain",
        within=(1, 30 * 86_400),
    )
    domain_lost_grace: int = setting(
        7 * 86_400,
        "seconds a domain whose proof was lost keeps its certified badge, so the shop can "
        'fix its record or file; then it shows "not valid for this site"',
        within=(0, 90 * 86_400),
    )
    domains_before_proofs_certify: bool = setting(
        True,
        "whether domains registered before ownership proofs existed still get the certified "
        "badge until proven; the verification page says they are not proven",
    )
    proof_allow_http: bool = setting(
        False, f"fetch the well-known file over plain HTTP too; {TEST_ONLY}"
    )
    proof_allow_loopback: bool = setting(
        False,
        f"let the well-known file be fetched from a loopback address; {TEST_ONLY}",
    )
    proof_file_port: int = setting(
        0,
        f"port the well-known file is fetched from; `0` is 443 (80 over HTTP); {TEST_ONLY}",
        within=(0, 65535),
    )

    def __post_init__(self) -> None:
        staleness = self.max_age + self.stale_while_revalidate
        if staleness > BROWSER_STALENESS:
            raise SettingsError(
                f"BADGE_MAX_AGE + BADGE_STALE_WHILE_REVALIDATE must be at most "
                f"{BROWSER_STALENESS} (a revocation reaches every browser within a minute), "
                f"got {self.max_age} + {self.stale_while_revalidate} = {staleness}"
            )

    @property
    def sqlite_path(self) -> Path | None:
        url = self.database_url.reveal()
        if url.startswith("sqlite:///"):
            return Path(url.removeprefix("sqlite:///"))
        return None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {row.attr: row.default for row in table()}
        found: dict[str, Any] = {row.attr: parse(row, raw) for row, raw in given(env)}
        values.update(found)
        # The one setting derived from others: unset, the public URL is where we listen.
        if "public_url" in found:
            values["public_url"] = found["public_url"].rstrip("/")
        else:
            host, port = values["host"], values["port"]
            values["public_url"] = (
                f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
            )
        return cls(**values)


@functools.cache
def table() -> tuple[Setting, ...]:
    """The rows, in the order of the fields."""
    types = get_type_hints(Settings)
    return tuple(
        Setting(attr=f.name, type=types[f.name], default=f.default, **f.metadata)
        for f in dataclasses.fields(Settings)
    )


def given(env: Mapping[str, str]) -> list[tuple[Setting, str]]:
    """The rows whose variable is set to something other than blank, with its value."""
    found = [(row, env.get(row.name, "").strip()) for row in table()]
    return [(row, raw) for row, raw in found if raw]


_TRUE: Final = {"1", "true", "yes", "on"}
_FALSE: Final = {"0", "false", "no", "off"}


def parse(row: Setting, raw: str) -> object:
    """The value of a (stripped, non-blank) variable, checked against its row."""
    kind = row.type
    if kind is bool:
        if raw.lower() not in _TRUE | _FALSE:
            raise SettingsError(f"{row.name} must be true or false, got {raw!r}")
        return raw.lower() in _TRUE
    if kind in (int, float):
        return _number(row, raw)
    if kind is Path:
        return Path(raw)
    if kind == tuple[str, ...]:
        urls = tuple(raw.replace(",", " ").split())
        for url in urls:
            _check_scheme(row, url)
            if row.item is not None and not re.fullmatch(row.item[0], url):
                raise SettingsError(f"{row.name} must list {row.item[1]} items, got {url!r}")
        return urls
    if row.choices:
        raw = raw.lower()
        if raw not in row.choices:
            raise SettingsError(f"{row.name} must be one of {', '.join(row.choices)}, got {raw!r}")
    _check_scheme(row, raw)
    if kind is str:
        return raw
    if kind in (Secret, Secret | None):
        return Secret(raw)
    raise TypeError(f"{row.name}: no reader for {kind!r}")


def _number(row: Setting, raw: str) -> float:
    try:
        value = row.type(raw)
    except ValueError:
        what = "a whole number" if row.type is int else "a number"
        raise SettingsError(f"{row.name} must be {what}, got {raw!r}") from None
    assert row.within is not None
    low, high = row.within
    if not low <= value <= high:
        raise SettingsError(
            f"{row.name} must be between {_plain(low)} and {_plain(high)}, got {value}"
        )
    return cast(float, value)


def _check_scheme(row: Setting, url: str) -> None:
    if row.schemes and not url.startswith(row.schemes):
        *first, last = row.schemes
        starts = f"{', '.join(first)} or {last}" if first else last
        raise SettingsError(f"{row.name} must start with {starts}, got {redact_url(url)!r}")


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def shown(value: object) -> str:
    """A value as `badge settings` prints it and the README states it, secrets masked."""
    if isinstance(value, Secret):
        revealed = value.reveal()
        return redact_url(revealed) if "://" in revealed else "**********"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _plain(value)
    if isinstance(value, tuple):
        return " ".join(shown(item) for item in value)
    if value is None:
        return ""
    if isinstance(value, Path) and not value.is_absolute():
        return f"./{value}"  # relative to the folder the command runs in
    text = str(value)
    return redact_url(text) if "://" in text else text
