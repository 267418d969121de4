"""A corpus of hostile badge files: every one is a 4xx with a reason, on both upload routes
and in `badge verify`, never a 500 or a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from badge.verify.check import extract_token
from tests.servers import ROOT

SVG_NS = "http://www.w3.org/2000/svg"
# Named in an XML declaration, each of these once made pyexpat hand the bytes to a Python
# codec that failed with an exception no one caught (LookupError, ValueError, UnicodeError).
ODD_ENCODINGS = (
    "utf-7",
    "shift_jis",
    "euc-jp",
    "utf-32",
    "rot13",
    "base64",
    "hex",
    "zlib",
    "idna",
    "punycode",
    "cp500",
    "x-no-such-encoding",
    "",
    "utf-8\x00",
    "u" * 300,
)


def declared(encoding: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>'
        f'<svg xmlns="{SVG_NS}" width="1" height="1"><title>x</title></svg>'
    ).encode("utf-8", "surrogatepass")


def corpus() -> list[tuple[str, bytes]]:
    files = [(f"encoding-{enc[:20] or 'empty'}", declared(enc)) for enc in ODD_ENCODINGS]
    files += [
        ("single-quoted-utf7", b"<?xml version='1.0' encoding='utf-7'?><svg/>"),
        (
            "utf16-bom-declares-utf7",
            "\ufeff<?xml version='1.0' encoding='utf-7'?><svg/>".encode("utf-16-le"),
        ),
        ("utf16-without-bom", '<?xml version="1.0" encoding="utf-16"?><svg/>'.encode("utf-16-le")),
        ("utf8-bom-declares-latin1", b"\xef\xbb\xbf<?xml version='1.0' encoding='latin-1'?><svg/>"),
        ("invalid-utf8", b'<?xml version="1.0" encoding="utf-8"?><svg>\xff\xfe\xc3</svg>'),
        ("nul-bytes", b"<svg>\x00\x00\x00</svg>"),
        ("unclosed-decl", b'<?xml version="1.0" encoding="utf-7"'),
        ("decl-only", b'<?xml version="1.0"?>'),
        ("cdata-token", f'<svg xmlns="{SVG_NS}"><![CDATA[a.b.c]]></svg>'.encode()),
        ("pi-bomb", b"<?xml version='1.0'?>" + b"<?x y?>" * 20_000 + b"<svg/>"),
        ("deep", b"<svg>" + b"<g>" * 500 + b"</g>" * 500 + b"</svg>"),
    ]
    return files


CORPUS = corpus()


@pytest.mark.parametrize(("name", "body"), [pytest.param(n, b, id=n) for n, b in CORPUS])
def test_api_refuses_with_a_reason(client: TestClient, name: str, body: bytes) -> None:
    response = client.post(
        "/api/v1/verify", content=body, headers={"content-type": "image/svg+xml"}
    )
    assert 400 <= response.status_code < 500, (name, response.status_code)
    data = response.json()
    assert data["genuine"] is False
    assert isinstance(data["reason"], str) and len(data["reason"]) > 10


@pytest.mark.parametrize(
    "encoding", ["utf-7", "shift_jis", "rot13", "base64", "idna", "punycode", "x-unknown"]
)
def test_odd_encodings_are_422_naming_the_encoding(client: TestClient, encoding: str) -> None:
    response = client.post(
        "/api/v1/verify", content=declared(encoding), headers={"content-type": "image/svg+xml"}
    )
    assert response.status_code == 422
    assert encoding in response.json()["reason"]
    assert "UTF-8" in response.json()["reason"]


@pytest.mark.parametrize(("name", "body"), [pytest.param(n, b, id=n) for n, b in CORPUS])
def test_form_refuses_with_a_reason(client: TestClient, name: str, body: bytes) -> None:
    response = client.post("/verify?lang=en", files={"file": ("badge.svg", body, "image/svg+xml")})
    assert 400 <= response.status_code < 500, (name, response.status_code)
    assert "Traceback" not in response.text


def test_cli_prints_the_reason_without_a_traceback(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "BADGE_DATABASE_URL": f"sqlite:///{tmp_path / 'badge.db'}",
        "BADGE_KEYS_DIR": str(tmp_path / "keys"),
    }
    # One process checks the whole corpus, so the test stays quick; each file is a separate
    # `badge verify` invocation through click's own entry point.
    script = (
        "import sys, json\n"
        "from click.testing import CliRunner\n"
        "from badge.cli import cli\n"
        "out = []\n"
        "for path in sys.argv[1:]:\n"
        "    r = CliRunner().invoke(cli, ['verify', path])\n"
        "    out.append([path, r.exit_code, r.output, repr(r.exception) "
        "if r.exception and not isinstance(r.exception, SystemExit) else None])\n"
        "print(json.dumps(out))\n"
    )
    paths = []
    for index, (_, body) in enumerate(CORPUS):
        path = tmp_path / f"{index}.svg"
        path.write_bytes(body)
        paths.append(str(path))
    done = subprocess.run(
        [sys.executable, "-c", script, *paths],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for path, code, output, exception in json.loads(done.stdout):
        assert exception is None, (path, exception)
        assert code == 1, (path, output)
        assert output.startswith("NOT GENUINE: "), (path, output)
        assert "Traceback" not in output


def test_cli_process_exits_non_zero_for_utf7(tmp_path: Path) -> None:
    path = tmp_path / "utf7.svg"
    path.write_bytes(declared("utf-7"))
    done = subprocess.run(
        [sys.executable, "-m", "badge", "verify", str(path)],
        env={
            "PATH": "/usr/bin:/bin",
            "BADGE_DATABASE_URL": f"sqlite:///{tmp_path / 'badge.db'}",
            "BADGE_KEYS_DIR": str(tmp_path / "keys"),
        },
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 1
    assert "utf-7" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_a_genuine_utf8_badge_still_parses() -> None:
    token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2ln"
    body = (
        f"<?xml version='1.0' encoding='UTF-8'?><svg xmlns='{SVG_NS}'>"
        f"<keurmerk:assertion xmlns:keurmerk='https://www.becommerce.be/ns/keurmerk-badge/1'>"
        f"{token}</keurmerk:assertion></svg>"
    ).encode()
    assert extract_token(body) == token
