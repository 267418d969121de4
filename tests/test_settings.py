"""Settings: defaults, every BADGE_* variable, clear errors, and secrets that never print."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from badge.settings import (
    Secret,
    Setting,
    Settings,
    SettingsError,
    parse,
    redact_url,
    shown,
    table,
)

ROOT = Path(__file__).resolve().parent.parent
NUMERIC = [row for row in table() if row.type in (int, float)]


def test_defaults() -> None:
    s = Settings.from_env({})
    assert s == Settings()
    assert (s.host, s.port, s.workers) == ("127.0.0.1", 8000, 1)
    assert s.database_url.reveal() == "sqlite:///./var/badge.db"
    assert s.sqlite_path == Path("var/badge.db")
    assert s.redis_url is None
    assert s.keys_dir == Path("./var/keys")
    assert s.public_url == "http://127.0.0.1:8000"
    assert s.access_log is False
    assert s.log_level == "info"
    assert s.token_ttl == 24 * 3600


def test_default_browser_staleness_is_at_most_a_minute() -> None:
    s = Settings()
    assert s.max_age + s.stale_while_revalidate <= 60
    # The edge keeps badges longer; it is purged on every change.
    assert s.edge_max_age > 60


@pytest.mark.parametrize(
    ("max_age", "swr"),
    [
        pytest.param("60", "1", id="one-over"),
        pytest.param("45", "30", id="both-within-bounds"),
    ],
)
def test_browser_staleness_over_a_minute_is_refused(max_age: str, swr: str) -> None:
    env = {"BADGE_MAX_AGE": max_age, "BADGE_STALE_WHILE_REVALIDATE": swr}
    with pytest.raises(SettingsError, match="BADGE_MAX_AGE \\+ BADGE_STALE_WHILE_REVALIDATE"):
        Settings.from_env(env)
    with pytest.raises(SettingsError, match="at most 60"):
        Settings(max_age=int(max_age), stale_while_revalidate=int(swr))


def test_browser_staleness_of_exactly_a_minute_is_allowed() -> None:
    s = Settings.from_env({"BADGE_MAX_AGE": "40", "BADGE_STALE_WHILE_REVALIDATE": "20"})
    assert (s.max_age, s.stale_while_revalidate) == (40, 20)


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BADGE_HOST", "BADGE_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BADGE_PORT", "9123")
    s = Settings.from_env()
    assert s.port == 9123
    assert s.public_url == "http://127.0.0.1:9123"


FULL_ENV = {
    "BADGE_HOST": "0.0.0.0",
    "BADGE_PORT": "8080",
    "BADGE_WORKERS": "4",
    "BADGE_DATABASE_URL": "sqlite:////srv/badge/registry.db",
    "BADGE_REDIS_URL": "redis://:hunter2@redis.internal:6379/3",
    "BADGE_KEYS_DIR": "/srv/badge/keys",
    "BADGE_PUBLIC_URL": "https://badge.becommerce.be/",
    "BADGE_MAX_AGE": "20",
    "BADGE_STALE_WHILE_REVALIDATE": "20",
    "BADGE_EDGE_MAX_AGE": "7200",
    "BADGE_TOKEN_TTL": "3600",
    "BADGE_STALE_LIMIT": "90.5",
    "BADGE_REDIS_TIMEOUT": "0.5",
    "BADGE_POLL_INTERVAL": "1",
    "BADGE_RENDER_PROCESSES": "2",
    "BADGE_ACCESS_LOG": "yes",
    "BADGE_LOG_LEVEL": "WARNING",
    "BADGE_LIMIT_CONCURRENCY": "8000",
    "BADGE_HEADER_TIMEOUT": "5",
    "BADGE_BODY_TIMEOUT": "12.5",
    "BADGE_RATE_WINDOW": "30",
    "BADGE_RATE_UPLOADS": "10",
    "BADGE_RATE_LOOKUPS": "0",
    "BADGE_RATE_ADMIN": "600",
    "BADGE_RATE_REPORTS": "3",
    "BADGE_FORWARDED_ALLOW_IPS": "172.28.5.0/24",
    "BADGE_COMPLAINTS_URL": "https://www.becommerce.be/klachten",
    "BADGE_PURGE_URLS": "http://varnish-1:6081/, https://edge.example/purge",
    "BADGE_DNS_RESOLVER": "127.0.0.1:5353, [::1]:53",
    "BADGE_DNS_TIMEOUT": "1.5",
    "BADGE_DOMAIN_CHECK_INTERVAL": "3600",
    "BADGE_DOMAIN_LOST_GRACE": "0",
    "BADGE_DOMAINS_BEFORE_PROOFS_CERTIFY": "no",
    "BADGE_PROOF_ALLOW_HTTP": "yes",
    "BADGE_PROOF_ALLOW_LOOPBACK": "1",
    "BADGE_PROOF_FILE_PORT": "8443",
}


def test_every_variable_is_parsed() -> None:
    s = Settings.from_env(FULL_ENV)
    assert s.host == "0.0.0.0"
    assert s.port == 8080
    assert s.workers == 4
    assert s.database_url.reveal() == "sqlite:////srv/badge/registry.db"
    assert s.sqlite_path == Path("/srv/badge/registry.db")
    assert s.redis_url is not None
    assert s.redis_url.reveal() == "redis://:hunter2@redis.internal:6379/3"
    assert s.keys_dir == Path("/srv/badge/keys")
    assert s.public_url == "https://badge.becommerce.be"  # trailing slash dropped
    assert s.max_age == 20
    assert s.stale_while_revalidate == 20
    assert s.edge_max_age == 7200
    assert s.token_ttl == 3600
    assert s.stale_limit == 90.5
    assert s.redis_timeout == 0.5
    assert s.poll_interval == 1.0
    assert s.render_processes == 2
    assert s.access_log is True
    assert s.log_level == "warning"
    assert s.limit_concurrency == 8000
    assert (s.header_timeout, s.body_timeout) == (5.0, 12.5)
    assert (s.rate_window, s.rate_uploads, s.rate_lookups) == (30, 10, 0)
    assert (s.rate_admin, s.rate_reports) == (600, 3)
    assert s.forwarded_allow_ips == "172.28.5.0/24"
    assert s.complaints_url == "https://www.becommerce.be/klachten"
    assert s.purge_urls == ("http://varnish-1:6081/", "https://edge.example/purge")
    assert s.dns_resolver == ("127.0.0.1:5353", "[::1]:53")
    assert (s.dns_timeout, s.domain_check_interval, s.domain_lost_grace) == (1.5, 3600, 0)
    assert s.domains_before_proofs_certify is False
    assert (s.proof_allow_http, s.proof_allow_loopback, s.proof_file_port) == (True, True, 8443)
    # Each field differs from its default, so a variable silently ignored would show.
    defaults = Settings()
    unchanged = [
        f.name
        for f in dataclasses.fields(Settings)
        if getattr(s, f.name) == getattr(defaults, f.name)
    ]
    assert unchanged == []


def test_every_field_has_a_variable() -> None:
    names = {f"BADGE_{f.name.upper()}" for f in dataclasses.fields(Settings)}
    assert names == set(FULL_ENV)


def test_blank_values_mean_default() -> None:
    env = dict.fromkeys(FULL_ENV, "  ")
    assert Settings.from_env(env) == Settings()


def test_values_are_stripped() -> None:
    s = Settings.from_env({"BADGE_PORT": " 9000 ", "BADGE_HOST": " ::1 "})
    assert s.port == 9000
    assert s.host == "::1"
    assert s.public_url == "http://[::1]:9000"


def test_public_url_follows_host_and_port() -> None:
    s = Settings.from_env({"BADGE_HOST": "0.0.0.0", "BADGE_PORT": "9000"})
    assert s.public_url == "http://0.0.0.0:9000"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("1", True, id="1"),
        pytest.param("TRUE", True, id="TRUE"),
        pytest.param("on", True, id="on"),
        pytest.param("0", False, id="0"),
        pytest.param("no", False, id="no"),
        pytest.param("Off", False, id="Off"),
        pytest.param("", False, id="empty"),
    ],
)
def test_boolean_values(value: str, expected: bool) -> None:
    assert Settings.from_env({"BADGE_ACCESS_LOG": value}).access_log is expected


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("postgresql://badge:hunter2@db.internal:5432/badge", id="postgresql"),
        pytest.param("postgres://badge@db.internal/badge", id="postgres"),
        pytest.param("postgresql://db1:5432,db2:5432/badge?sslmode=require", id="multi-host"),
    ],
)
def test_postgres_urls_are_accepted(url: str) -> None:
    s = Settings.from_env({"BADGE_DATABASE_URL": url})
    assert s.database_url.reveal() == url
    assert s.sqlite_path is None
    assert "hunter2" not in repr(s)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("BADGE_PORT", "abc", id="port-text"),
        pytest.param("BADGE_PORT", "0", id="port-zero"),
        pytest.param("BADGE_PORT", "70000", id="port-too-big"),
        pytest.param("BADGE_PORT", "80.5", id="port-fraction"),
        pytest.param("BADGE_WORKERS", "0", id="workers-zero"),
        pytest.param("BADGE_MAX_AGE", "-1", id="max-age-negative"),
        pytest.param("BADGE_MAX_AGE", "240", id="max-age-over-a-minute"),
        pytest.param("BADGE_EDGE_MAX_AGE", "100000", id="edge-max-age-over-a-day"),
        pytest.param("BADGE_STALE_WHILE_REVALIDATE", "lots", id="swr-text"),
        pytest.param("BADGE_TOKEN_TTL", "10", id="token-ttl-too-short"),
        pytest.param("BADGE_STALE_LIMIT", "abc", id="stale-limit-text"),
        pytest.param("BADGE_STALE_LIMIT", "0", id="stale-limit-zero"),
        pytest.param("BADGE_REDIS_TIMEOUT", "60", id="redis-timeout-too-long"),
        pytest.param("BADGE_POLL_INTERVAL", "0", id="poll-zero"),
        pytest.param("BADGE_RENDER_PROCESSES", "-1", id="render-processes-negative"),
        pytest.param("BADGE_ACCESS_LOG", "maybe", id="access-log-maybe"),
        pytest.param("BADGE_LOG_LEVEL", "verbose", id="log-level"),
        pytest.param("BADGE_COMPLAINTS_URL", "javascript:alert(1)", id="complaints-url"),
        pytest.param("BADGE_REDIS_URL", "http://x", id="redis-http"),
        pytest.param("BADGE_REDIS_URL", "localhost:6379", id="redis-no-scheme"),
        pytest.param("BADGE_DATABASE_URL", "mysql://user:pw@db/badge", id="database-mysql"),
        pytest.param("BADGE_DATABASE_URL", "badge.db", id="database-bare-path"),
        pytest.param(
            "BADGE_DATABASE_URL", "postgresql+psycopg://u:pw@db/badge", id="database-sqlalchemy"
        ),
        pytest.param("BADGE_PUBLIC_URL", "ftp://badge.be", id="public-url-ftp"),
        pytest.param("BADGE_PURGE_URLS", "http://ok:6081 varnish:6081", id="purge-no-scheme"),
        pytest.param("BADGE_DNS_RESOLVER", "127.0.0.1", id="resolver-no-port"),
        pytest.param("BADGE_DNS_RESOLVER", "dns.example:53", id="resolver-name"),
    ],
)
def test_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    message = str(info.value)
    assert message.startswith(name), message
    assert "\n" not in message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("BADGE_REDIS_URL", "http://user:hunter2@cache:6379", id="redis"),
        pytest.param("BADGE_DATABASE_URL", "mysql://user:hunter2@db/badge", id="mysql"),
        pytest.param(
            "BADGE_DATABASE_URL", "postgresql+psycopg://user:hunter2@db/badge", id="postgres"
        ),
    ],
)
def test_error_messages_do_not_leak_passwords(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    assert "hunter2" not in str(info.value)


def test_secret_never_prints() -> None:
    secret = Secret("hunter2")
    shown = [
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        format(secret, ""),
        str((secret,)),
        str([secret]),
    ]
    for text in shown:
        assert "hunter2" not in text
        assert "*" in text
    assert secret.reveal() == "hunter2"
    assert secret == Secret("hunter2")
    assert secret != Secret("other")
    assert secret != "hunter2"
    assert len({secret, Secret("hunter2")}) == 1


def test_settings_repr_hides_secrets() -> None:
    env = {
        "BADGE_REDIS_URL": "redis://:hunter2@redis:6379/0",
        "BADGE_DATABASE_URL": "sqlite:////secret-place/hunter3.db",
    }
    s = Settings.from_env(env)
    text = repr(s) + str(s)
    assert "hunter2" not in text
    assert "hunter3" not in text
    assert "Secret(" in text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "redis://user:hunter2@host:6379/0", "redis://user:***@host:6379/0", id="user-pass"
        ),
        pytest.param("redis://:hunter2@host:6379", "redis://:***@host:6379", id="pass-only"),
        pytest.param(
            "postgresql://hunter2:hunter2@db/badge",
            "postgresql://hunter2:***@db/badge",
            id="user-equals-pass",
        ),
        pytest.param("rediss://u:p%40ss@host", "rediss://u:***@host", id="escaped"),
        pytest.param("redis://u:a:b@host", "redis://u:***@host", id="colon-in-pass"),
        pytest.param("redis://host:6379/0", "redis://host:6379/0", id="no-password"),
        pytest.param("redis://user@host", "redis://user@host", id="user-only"),
        pytest.param("sqlite:///./var/badge.db", "sqlite:///./var/badge.db", id="sqlite"),
        pytest.param(
            "postgresql://db/badge?sslmode=require&password=hunter2",
            "postgresql://db/badge?sslmode=require&password=***",
            id="query-password",
        ),
        pytest.param("unix:///run/redis.sock?db=0", "unix:///run/redis.sock?db=0", id="query"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_settings_are_frozen() -> None:
    s = Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.port = 1  # type: ignore[misc]
    with pytest.raises((AttributeError, TypeError)):
        s.extra = 1  # type: ignore[attr-defined]
    assert dataclasses.replace(s, port=9000).port == 9000
    assert s.port == 8000


def test_every_row_is_complete() -> None:
    for row in table():
        assert row.name.startswith("BADGE_") and row.help, row
        if row.type in (int, float):
            assert row.within is not None, row.name
            assert row.within[0] <= row.default <= row.within[1], row.name  # type: ignore[operator]


@pytest.mark.parametrize("row", [pytest.param(r, id=r.name) for r in table()])
def test_each_default_reads_back_as_itself(row: Setting) -> None:
    """The default as `badge settings` and the README show it is a valid value for it."""
    text = shown(row.default)
    if not text:  # unset: nothing to read back
        assert Settings.from_env({row.name: ""}) == Settings()
        return
    expected = Settings.from_env({row.name: text})
    assert getattr(expected, row.attr) == row.default
    assert parse(row, text) == row.default


@pytest.mark.parametrize("row", [pytest.param(r, id=r.name) for r in NUMERIC])
def test_bounds_are_inclusive(row: Setting) -> None:
    assert row.within is not None
    low, high = row.within
    # Browser max-age and stale-while-revalidate share one bound: the other one at 0.
    partner = {"BADGE_MAX_AGE": "BADGE_STALE_WHILE_REVALIDATE"}
    partner |= {b: a for a, b in partner.items()}
    others = {partner[row.name]: "0"} if row.name in partner else {}
    for edge in (low, high):
        assert getattr(Settings.from_env({row.name: str(edge), **others}), row.attr) == edge
    step = 1 if row.type is int else 0.001
    for outside in (low - step, high + step):
        with pytest.raises(SettingsError, match=f"^{row.name} must be between"):
            Settings.from_env({row.name: str(row.type(outside))})


def test_shown_masks_secrets() -> None:
    assert shown(Secret("redis://:hunter2@r:6379/0")) == "redis://:***@r:6379/0"
    assert shown(Secret("hunter2")) == "**********"
    assert shown(("http://u:hunter2@edge/", "http://edge2/")) == "http://u:***@edge/ http://edge2/"
    assert shown(Path("var/keys")) == "./var/keys"
    assert shown(0.25) == "0.25" and shown(60.0) == "60" and shown(None) == ""


def test_env_example_values_are_valid() -> None:
    """Every value .env.example sets is one the service accepts."""
    lines = (ROOT / ".env.example").read_text().splitlines()
    example = dict(
        line.split("=", 1) for line in lines if line.startswith("BADGE_") and "=" in line
    )
    assert example
    settings = Settings.from_env(example)
    assert settings.public_url == example["BADGE_PUBLIC_URL"]
