"""Drift guards for the compose deployment: compose.yaml, .env.example and the VCL agree with
the code. (The VCL itself runs in tests/test_deploy.py; compose needs a registry to pull from.)
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.edge import VARNISHD, VCL_DIR, shipped_params
from tests.test_readme import SETTING_NAMES

ROOT = Path(__file__).resolve().parent.parent
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
APPS = sorted(
    name
    for name, service in SERVICES.items()
    if service.get("build") and "init" not in name and service.get("command") is None
)


def test_at_least_two_app_replicas_from_the_dockerfile() -> None:
    assert len(APPS) >= 2, APPS
    for name in APPS:
        env = SERVICES[name]["environment"]
        assert env["BADGE_DATABASE_URL"].startswith("postgresql://")
        assert env["BADGE_REDIS_URL"].startswith("redis://redis:")
        assert env["BADGE_PURGE_URLS"] == "http://varnish:80/"


@pytest.mark.parametrize("name", ["postgres", "redis", "varnish"])
def test_dependencies_are_official_images(name: str) -> None:
    image = SERVICES[name]["image"]
    # Docker's official images have no namespace: `redis:7`, not `someone/redis`.
    assert "/" not in image and ":" in image, image


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_health_check(name: str) -> None:
    assert SERVICES[name]["healthcheck"]["test"]


def test_every_instance_signs_with_the_same_keys() -> None:
    for name in APPS:
        assert "keys:/data/keys" in SERVICES[name]["volumes"]
        assert SERVICES[name]["environment"]["BADGE_KEYS_DIR"] == "/data/keys"


def test_migrations_and_the_first_key_run_once_before_the_instances() -> None:
    init = SERVICES["init"]
    assert "badge keys generate" in " ".join(init["command"])
    assert init["restart"] == "no"
    for name in APPS:
        assert SERVICES[name]["depends_on"]["init"] == {
            "condition": "service_completed_successfully"
        }


def test_varnish_runs_the_repositorys_vcl_with_one_backend_per_instance() -> None:
    assert "./deploy/varnish:/etc/varnish:ro" in SERVICES["varnish"]["volumes"]
    site = (VCL_DIR / "site.vcl").read_text()
    hosts = re.findall(r'\.host = "([^"]+)"', site)
    assert sorted(hosts) == APPS
    subnet = COMPOSE["networks"]["backend"]["ipam"]["config"][0]["subnet"]
    assert f'"{subnet.split("/")[0]}"/{subnet.split("/")[1]}' in site


def test_the_compose_vcl_compiles(tmp_path: Path) -> None:
    # The compose host names only resolve inside compose; loopback stands in for them here.
    site = (VCL_DIR / "site.vcl").read_text()
    (tmp_path / "site.vcl").write_text(re.sub(r'\.host = "[^"]+"', '.host = "127.0.0.1"', site))
    result = subprocess.run(
        [
            VARNISHD,
            "-C",
            "-j",
            "none",
            "-n",
            str(tmp_path / "n"),
            "-p",
            f"vcl_path={tmp_path}:{VCL_DIR}",
            "-f",
            str(VCL_DIR / "default.vcl"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_env_example_lists_every_setting() -> None:
    example = (ROOT / ".env.example").read_text()
    missing = [name for name in SETTING_NAMES if f"{name}=" not in example]
    assert missing == []
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_varnish_runs_the_shipped_parameters_with_its_workdir_in_memory(tmp_path: Path) -> None:
    varnish = SERVICES["varnish"]
    assert "/var/lib/varnish/varnishd:exec" in varnish["tmpfs"]
    shell, flag, line = varnish["entrypoint"]
    assert (shell, flag) == ("sh", "-c")
    # Run the entrypoint's own line, with compose's `$$` unescaped and the image's entrypoint
    # replaced by a printer: it must pass each line of varnishd.params as `-p name=value`.
    script = line.replace("$$", "$").replace("/etc/varnish/", f"{VCL_DIR}/")
    script = script.replace("exec docker-varnish-entrypoint", "printf '%s\\n'")
    printed = subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    expected = [arg for param in shipped_params() for arg in ("-p", param)]
    assert printed == expected
    assert "http_gzip_support=off" in shipped_params()
