"""A private key that group or others may read stops the service and the CLI, with the chmod
that fixes it, as ssh does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from badge.app import create_app
from badge.settings import Settings
from badge.signing import KeyStore, UnsafeKeyFile
from tests.servers import ROOT, free_port, service_env


def make_keys(keys_dir: Path, *, rotate: bool = False) -> list[Path]:
    store = KeyStore(keys_dir, token_ttl=3600)
    store.ensure()
    if rotate:
        store.rotate()
    return sorted(keys_dir.glob("*.pem"))


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o601])
def test_loading_refuses_group_or_other_access(tmp_path: Path, mode: int) -> None:
    (key,) = make_keys(tmp_path / "keys")
    os.chmod(key, mode)
    with pytest.raises(UnsafeKeyFile) as caught:
        KeyStore(tmp_path / "keys", token_ttl=3600).ensure()
    message = str(caught.value)
    assert f"permissions {mode:04o}" in message
    assert message.endswith(f"Fix it with: chmod 600 {key}")
    os.chmod(key, 0o600)
    KeyStore(tmp_path / "keys", token_ttl=3600).ensure()
    os.chmod(key, 0o400)
    KeyStore(tmp_path / "keys", token_ttl=3600).ensure()


def test_a_retired_key_counts_too(tmp_path: Path) -> None:
    keys = make_keys(tmp_path / "keys", rotate=True)
    assert len(keys) == 2
    for key in keys:
        os.chmod(key, 0o600)
    store = KeyStore(tmp_path / "keys", token_ttl=3600)
    store.ensure()
    retired = next(k for k in keys if k.stem != store.signing_kid)
    os.chmod(retired, 0o644)
    with pytest.raises(UnsafeKeyFile, match=re.escape(f"chmod 600 {retired}")):
        KeyStore(tmp_path / "keys", token_ttl=3600).ensure()


def test_the_app_does_not_start(settings: Settings) -> None:
    (key,) = make_keys(settings.keys_dir)
    os.chmod(key, 0o644)
    with pytest.raises(UnsafeKeyFile), TestClient(create_app(settings)):
        pass


def run(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "badge", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_badge_serve_and_the_cli_stop_with_the_fix(tmp_path: Path) -> None:
    (key,) = make_keys(tmp_path / "keys")
    os.chmod(key, 0o644)
    env = service_env(tmp_path, BADGE_PORT=str(free_port()))
    expected = f"error: private key {key} has permissions 0644"
    for args in (("serve",), ("keys", "list"), ("keys", "rotate")):
        result = run(env, *args)
        assert result.returncode == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(expected), (args, result.stderr)
        assert last.endswith(f"Fix it with: chmod 600 {key}")
    badge_file = tmp_path / "badge.svg"
    badge_file.write_bytes(
        b"<svg xmlns='http://www.w3.org/2000/svg'><k:assertion "
        b"xmlns:k='https://www.becommerce.be/ns/keurmerk-badge/1'>aaaa.bbbb.cccc</k:assertion></svg>"
    )
    verify = run(env, "verify", str(badge_file))
    assert verify.returncode == 1
    assert verify.stderr.strip().startswith(expected)
