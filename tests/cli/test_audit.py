"""`badge shops update`: a reason is required, and `shops show` lists what changed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from badge.registry.sqlite import SQLiteRegistry
from tests.conftest import add_shop


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BADGE_")}
    env["BADGE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'b.db'}"
    env["BADGE_KEYS_DIR"] = str(tmp_path / "keys")
    return subprocess.run(
        [sys.executable, "-m", "badge", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )


def test_update_needs_a_reason_and_is_audited(tmp_path: Path) -> None:
    registry = SQLiteRegistry(tmp_path / "b.db")
    shop = add_shop(registry)
    registry.close()

    refused = run(tmp_path, "shops", "update", shop.id, "--domain", "nieuw.be")
    assert refused.returncode == 2
    assert "--reason" in refused.stderr
    blank = run(tmp_path, "shops", "update", shop.id, "--domain", "nieuw.be", "--reason", " ")
    assert blank.returncode == 1
    assert blank.stderr == "error: a reason is required; it is kept in the shop's history\n"
    bad_date = run(
        tmp_path, "shops", "update", shop.id, "--reason", "r", "--last-audit", "0001-01-01"
    )
    assert bad_date.returncode == 1
    assert bad_date.stderr.startswith("error: last_audit 0001-01-01 is out of range")

    done = run(
        tmp_path,
        *("shops", "update", shop.id, "--reason", "moved to a new domain"),
        *("--domain", "nieuw.be", "--domain", "www.tweede.be", "--no-categories"),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{shop.id}: updated (moved to a new domain)\n"
    again = run(
        tmp_path,
        "shops",
        "update",
        shop.id,
        "--reason",
        "x",
        "--domain",
        "nieuw.be",
        "--domain",
        "tweede.be",
    )
    assert again.stdout == f"{shop.id}: nothing changed\n"

    shown = run(tmp_path, "shops", "show", shop.id)
    assert shown.returncode == 0, shown.stderr
    assert (
        "edited categories b2c_member -> -; domains bakkerij-test.be -> nieuw.be,tweede.be  "
        "by cli:" in shown.stdout
    )
    assert shown.stdout.rstrip().endswith(": moved to a new domain")
