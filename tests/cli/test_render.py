"""The acceptance test, with real processes: `badge serve` on a free port, and the operator's
`badge shops|render|verify|keys` commands run beside it against the same SQLite file and keys.

No Redis: a change made by another process reaches the server through the registry feed."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import jwt
import pytest
from PIL import Image

from badge.registry.sqlite import SQLiteRegistry
from badge.render.artwork import THUMBS_UP
from badge.verify.check import extract_token
from badge.vocabulary import SIZES
from tests.servers import free_port

pytestmark = pytest.mark.server

BADGE = Path(sys.executable).with_name("badge")
ID_LINE = re.compile(r"^[a-z2-9]{16}$")


@dataclass
class Served:
    root: Path
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    http: httpx2.Client

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BADGE), *args],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.run(*args)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result

    def add_shop(self, name: str, domain: str) -> str:
        result = self.ok(
            "shops", "add",
            "--name", name,
            "--legal-name", f"{name} BV",
            "--enterprise-number", "0123.456.749",
            "--domain", domain,
            "--category", "b2c_member",
        )  # fmt: skip
        shop_id = result.stdout.strip().splitlines()[-1]
        assert ID_LINE.match(shop_id), result.stdout
        # A new domain is pending until proven; the operator vouches for the test's domain.
        attested = self.run("domains", "attest", shop_id, domain, "--reason", "test shop")
        assert attested.returncode == 0, attested.stderr
        return shop_id

    def jwks(self) -> dict[str, Any]:
        response = self.http.get("/.well-known/jwks.json")
        assert response.status_code == 200
        data: dict[str, Any] = response.json()
        return data

    def claims(self, token: str) -> dict[str, Any]:
        """Verify a token the way a third party would: PyJWT and the server's JWKS."""
        key_set = jwt.PyJWKSet.from_dict(self.jwks())
        kid = jwt.get_unverified_header(token)["kid"]
        claims: dict[str, Any] = jwt.decode(
            token, key_set[kid].key, algorithms=["EdDSA"], issuer=self.public_url
        )
        return claims


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("served")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BADGE_")}
    env.update(
        BADGE_DATABASE_URL=f"sqlite:///{root / 'b.db'}",
        BADGE_KEYS_DIR=str(root / "keys"),
        BADGE_PUBLIC_URL=f"http://127.0.0.1:{port}",
        BADGE_PORT=str(port),
        BADGE_LOG_LEVEL="warning",
    )
    log = open(root / "server.log", "wb")  # noqa: SIM115 - closed below, after the server
    process = subprocess.Popen([str(BADGE), "serve"], env=env, cwd=root, stdout=log, stderr=log)
    http = httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, (root / "server.log").read_text()
            try:
                if http.get("/healthz").status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            assert time.monotonic() < deadline, "badge serve not ready after 20 s"
            time.sleep(0.05)
        yield Served(root=root, port=port, env=env, process=process, http=http)
    finally:
        http.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def poll(check: Any, limit: float) -> float:
    """Call `check` every 50 ms until it is true; return the seconds it took."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > limit:
            raise AssertionError(f"not within {limit} s")
        time.sleep(0.05)
    return time.monotonic() - started


def certified_mark(body: bytes) -> bool:
    return THUMBS_UP in body.decode()


def test_revocation_end_to_end(served: Served) -> None:
    shop_id = served.add_shop("Acceptatie Webshop", "acceptatie-test.be")
    # As a browser on the shop's own website asks for it (the page decides what it says).
    page = {"referer": "https://acceptatie-test.be/"}
    svg = served.http.get(f"/b/{shop_id}.svg", headers=page)
    png = served.http.get(f"/b/{shop_id}.png", headers=page)
    assert svg.status_code == png.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert png.headers["content-type"] == "image/png"
    assert certified_mark(svg.content)
    old_svg, old_png = served.root / "old.svg", served.root / "old.png"
    old_svg.write_bytes(svg.content)
    old_png.write_bytes(png.content)

    for path in (old_svg, old_png):
        result = served.run("verify", str(path))
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith("GENUINE:"), result.stdout
        assert "certified now" in result.stdout
        assert shop_id in result.stdout

    claims = served.claims(extract_token(svg.content))
    assert claims["sub"] == shop_id and claims["state"] == "certified"
    assert claims["domains"] == ["acceptatie-test.be"]
    assert (claims["variant"], claims["site"]) == ("certified", "acceptatie-test.be")

    # Run set-state without waiting, and watch both the registry and the server every 50 ms:
    # the delay that matters runs from the commit to the first neutral badge served.
    command = subprocess.Popen(
        [str(BADGE), "shops", "set-state", shop_id, "revoked", "--reason", "test"],
        env=served.env,
        cwd=served.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    registry = SQLiteRegistry(served.root / "b.db")
    committed = seen = exited = None
    try:
        deadline = time.monotonic() + 30
        while seen is None or exited is None:
            assert time.monotonic() < deadline, "revocation never showed"
            now = time.monotonic()
            if exited is None and command.poll() is not None:
                exited = now
            if committed is None:
                current = registry.get_shop(shop_id)
                if current is not None and current.state == "revoked":
                    committed = now
            if committed is not None and seen is None:
                badge = served.http.get(f"/b/{shop_id}.svg", headers=page).content
                seen = None if certified_mark(badge) else time.monotonic()
            time.sleep(0.05)
    finally:
        registry.close()
        command.wait(timeout=30)
    assert command.returncode == 0, command.stderr.read() if command.stderr else ""
    if command.stderr is not None:
        command.stderr.close()
    assert committed is not None and seen is not None
    print(
        f"\nrevocation by another process served {(seen - committed) * 1000:.0f} ms after the "
        f"commit was visible ({(seen - exited) * 1000:+.0f} ms relative to the command's exit)"
    )
    assert seen - committed < 1.0
    assert seen - exited < 1.0

    new_svg = served.http.get(f"/b/{shop_id}.svg", headers=page)
    assert new_svg.headers["etag"] != svg.headers["etag"]
    assert served.claims(extract_token(new_svg.content))["state"] == "revoked"
    new_png = served.http.get(f"/b/{shop_id}.png", headers=page)
    assert served.claims(extract_token(new_png.content))["state"] == "revoked"

    for path in (old_svg, old_png):
        result = served.run("verify", str(path))
        assert result.returncode != 0
        # The old file's signature is still ours; the shop simply is not certified any more.
        assert result.stdout.startswith("GENUINE:"), result.stdout
        assert "NOT certified now" in result.stdout
        assert "revoked" in result.stdout
        assert "Traceback" not in result.stderr


def test_verify_ignores_the_shells_own_port_and_public_url(served: Served) -> None:
    """The server runs with BADGE_PORT (and so its own issuer); an operator's shell without
    them still verifies the server's badge, and is told the difference is configuration."""
    shop_id = served.add_shop("Poort Webshop", "poort-test.be")
    path = served.root / "poort.svg"
    # Fetched as the shop's own page does, so it is the certified badge.
    page = {"referer": "https://poort-test.be/"}
    path.write_bytes(served.http.get(f"/b/{shop_id}.svg", headers=page).content)
    shell = {k: v for k, v in served.env.items() if k not in ("BADGE_PORT", "BADGE_PUBLIC_URL")}
    result = subprocess.run(
        [str(BADGE), "verify", str(path)],
        env=shell,
        cwd=served.root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("GENUINE: signature: genuine"), result.stdout
    assert "NOT GENUINE" not in result.stdout
    issuer_line = next(line for line in result.stdout.splitlines() if line.startswith("issuer:"))
    assert served.public_url in issuer_line
    assert "BADGE_PUBLIC_URL is http://127.0.0.1:8000" in issuer_line
    assert "configuration difference" in issuer_line
    assert "verdict:    OK" in result.stdout


def test_verify_refuses_a_tampered_and_a_foreign_file(served: Served) -> None:
    shop_id = served.add_shop("Knoeier Webshop", "knoeier-test.be")
    body = served.http.get(f"/b/{shop_id}.svg").content
    token = extract_token(body)
    header, payload, signature = token.split(".")
    forged = body.replace(token.encode(), f"{header}.{payload}.{signature[::-1]}".encode())
    (served.root / "forged.svg").write_bytes(forged)
    result = served.run("verify", str(served.root / "forged.svg"))
    assert result.returncode == 1
    assert result.stdout.startswith("NOT GENUINE:"), result.stdout

    (served.root / "plain.svg").write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"/>')
    result = served.run("verify", str(served.root / "plain.svg"))
    assert result.returncode == 1
    assert "NOT GENUINE" in result.stdout
    assert "Traceback" not in result.stderr


def test_render_writes_a_signed_retina_png(served: Served) -> None:
    shop_id = served.add_shop("Render Webshop", "render-test.be")
    out = served.root / "x.png"
    result = served.ok("render", shop_id, "--format", "png", "--scale", "2", "-o", str(out))
    assert "certified" in result.stdout
    data = out.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG"
        width, height = SIZES["m"]
        assert image.size == (width * 2, height * 2)
    token = extract_token(data)
    claims = served.claims(token)
    assert claims["sub"] == shop_id and claims["state"] == "certified"
    verified = served.run("verify", str(out))
    assert verified.returncode == 0, verified.stdout + verified.stderr

    svg_out = served.root / "x.svg"
    served.ok(
        "render", shop_id, "--format", "svg", "--lang", "fr", "--size", "l", "-o", str(svg_out)
    )
    assert f'width="{SIZES["l"][0]}"' in svg_out.read_text()
    assert served.claims(extract_token(svg_out.read_bytes()))["sub"] == shop_id

    unknown = served.run("render", "zzzzzzzzzzzzzzzz", "--format", "svg", "-o", str(svg_out))
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("error: ")


def test_key_rotation_reaches_the_server_and_old_badges_still_verify(served: Served) -> None:
    shop_id = served.add_shop("Sleutel Webshop", "sleutel-test.be")
    page = {"referer": "https://sleutel-test.be/"}
    before = served.http.get(f"/b/{shop_id}.svg", headers=page).content
    old_kid = jwt.get_unverified_header(extract_token(before))["kid"]
    published = {k["kid"] for k in served.jwks()["keys"]}
    assert old_kid in published
    old_file = served.root / "before-rotation.svg"
    old_file.write_bytes(before)

    result = served.ok("keys", "rotate")
    new_kid = result.stdout.split()[-1]
    assert new_kid != old_kid

    delay = poll(lambda: {k["kid"] for k in served.jwks()["keys"]} == published | {new_kid}, 2.0)
    written = (served.root / "keys" / "keys.json").stat().st_mtime
    lag = time.time() - written
    assert lag < 1.5
    print(
        f"\nkey rotation published by badge serve within {lag * 1000:.0f} ms of the new "
        f"manifest ({delay * 1000:.0f} ms after `badge keys rotate` exited)"
    )
    after = served.http.get(f"/b/{shop_id}.svg", headers=page).content
    assert jwt.get_unverified_header(extract_token(after))["kid"] == new_kid
    assert served.claims(extract_token(after))["sub"] == shop_id

    # Tokens signed before the rotation still verify, by PyJWT and by `badge verify`.
    assert served.claims(extract_token(before))["sub"] == shop_id
    verified = served.run("verify", str(old_file))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    listing = served.ok("keys", "list").stdout
    assert re.search(rf"^{re.escape(new_kid)}\s+signing", listing, re.M), listing
    assert re.search(rf"^{re.escape(old_kid)}\s+published", listing, re.M), listing


def test_verify_names_the_variant_of_a_borrowed_or_unbound_badge(served: Served) -> None:
    shop_id = served.add_shop("Leen Webshop", "leen-test.be")
    cases = {
        "neutral": ({}, "the neutral 'check this shop' badge"),
        "mismatch": ({"referer": "https://copycat.example/"}, "'not valid for this site' badge"),
    }
    for variant, (headers, words) in cases.items():
        path = served.root / f"{variant}.svg"
        path.write_bytes(served.http.get(f"/b/{shop_id}.svg", headers=headers).content)
        result = served.run("verify", str(path))
        # Genuine and the shop is certified, yet the file never vouched for a site.
        assert result.returncode == 1, result.stdout
        assert result.stdout.startswith("GENUINE:")
        assert words in result.stdout and "the shop is certified now" in result.stdout
        assert f"showed:     {variant}" in result.stdout
        data = json.loads(served.run("verify", "--json", str(path)).stdout)
        assert (data["variant"], data["site"], data["certified_now"]) == (variant, None, True)
