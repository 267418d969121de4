"""`badge settings`: the effective settings, from the environment as `badge serve` reads them."""

from __future__ import annotations

from pathlib import Path

from badge.settings import table
from tests.cli.test_shops import Badge

SECRET_ENV = {
    "BADGE_PORT": "9100",
    "BADGE_DATABASE_URL": "postgresql://badge:hunter2@db.internal/badge?password=hunter3",
    "BADGE_REDIS_URL": "redis://:hunter4@redis.internal:6379/0",
    "BADGE_PURGE_URLS": "http://edge:hunter5@varnish:80/ http://varnish-2:80/",
    "BADGE_ACCESS_LOG": "yes",
}


def lines_of(stdout: str) -> dict[str, str]:
    found = dict(line.split("=", 1) for line in stdout.strip().splitlines())
    assert list(found) == [row.name for row in table()]  # every setting, once, in table order
    return found


def test_prints_every_setting_with_its_origin(tmp_path: Path) -> None:
    badge = Badge(tmp_path)
    shown = lines_of(badge.ok_env({"BADGE_PORT": "9100"}, "settings").stdout)
    assert shown["BADGE_PORT"] == "9100"
    assert shown["BADGE_HOST"] == "127.0.0.1  (default)"
    # Derived from host and port when unset, as `badge serve` derives it.
    assert shown["BADGE_PUBLIC_URL"] == "http://127.0.0.1:9100  (default)"
    assert shown["BADGE_DATABASE_URL"] == f"sqlite:///{badge.db}"
    assert shown["BADGE_REDIS_URL"] == "  (default)"
    assert shown["BADGE_STALE_LIMIT"] == "60  (default)"
    assert shown["BADGE_ACCESS_LOG"] == "false  (default)"
    # Reading settings opens no registry, so none is made.
    assert not badge.db.exists()


def test_secrets_are_masked(tmp_path: Path) -> None:
    result = Badge(tmp_path).ok_env(SECRET_ENV, "settings")
    assert "hunter" not in result.stdout + result.stderr
    shown = lines_of(result.stdout)
    assert shown["BADGE_DATABASE_URL"] == "postgresql://badge:***@db.internal/badge?password=***"
    assert shown["BADGE_REDIS_URL"] == "redis://:***@redis.internal:6379/0"
    assert shown["BADGE_PURGE_URLS"] == "http://edge:***@varnish:80/ http://varnish-2:80/"
    assert shown["BADGE_ACCESS_LOG"] == "true"


def test_a_bad_value_is_named(tmp_path: Path) -> None:
    stderr = Badge(tmp_path).fails("settings", env={"BADGE_RATE_WINDOW": "0"})
    assert stderr.strip() == "error: BADGE_RATE_WINDOW must be between 1 and 3600, got 0"
