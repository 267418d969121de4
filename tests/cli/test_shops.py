"""The `badge` command end to end: real subprocesses against a real SQLite file and keys dir."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from badge.cli import cli
from badge.registry.proofs import DEMO_ATTESTATION
from badge.registry.sqlite import SQLiteRegistry

ID_LINE = re.compile(r"^[a-z2-9]{16}$")
TOKEN_LINE = re.compile(r"^bkt_[A-Za-z0-9_-]{43}$")


@dataclass
class Badge:
    """Runs `python -m badge` with BADGE_* pointing into one temporary directory."""

    root: Path

    @property
    def db(self) -> Path:
        return self.root / "b.db"

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BADGE_")}
        env["BADGE_DATABASE_URL"] = f"sqlite:///{self.db}"
        env["BADGE_KEYS_DIR"] = str(self.keys_dir)
        env.update(extra or {})
        return env

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "badge", *args],
            capture_output=True,
            text=True,
            env=self.env(env),
            cwd=self.root,
            timeout=60,
        )

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.run(*args)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        return result

    def ok_env(self, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        result = self.run(*args, env=env)
        assert result.returncode == 0, result.stderr
        return result

    def fails(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Assert a clean failure: non-zero, `error: ...` lines only, no traceback."""
        result = self.run(*args, env=env)
        assert result.returncode != 0, result.stdout
        assert "Traceback" not in result.stderr + result.stdout, result.stderr
        lines = result.stderr.strip().splitlines()
        assert lines, "no reason given"
        assert all(line.startswith("error: ") for line in lines), result.stderr
        return result.stderr

    def registry(self) -> SQLiteRegistry:
        return SQLiteRegistry(self.db)

    def snapshot(self) -> tuple[object, ...]:
        """Everything a failed command must leave untouched."""
        reg = self.registry()
        try:
            shops = reg.list_shops()
            return (
                shops,
                [reg.history(s.id) for s in shops],
                reg.change_cursor(),
                reg.token_digests(),
            )
        finally:
            reg.close()


def demo_ids(stdout: str) -> dict[str, str]:
    """`badge demo` lines are `<id>  <state> <name> (<domain>)`; map state -> id."""
    found: dict[str, str] = {}
    for line in stdout.strip().splitlines():
        shop_id, state = line.split()[:2]
        assert ID_LINE.match(shop_id), line
        found[state] = shop_id
    return found


@pytest.fixture
def badge(tmp_path: Path) -> Badge:
    return Badge(tmp_path)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Badge, str]:
    """A demo registry shared by the read-only and failing-command tests below."""
    b = Badge(tmp_path_factory.mktemp("seeded"))
    return b, b.ok("demo").stdout


def test_help_lists_every_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "badge", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    listed = set(re.findall(r"^  ([a-z][a-z-]*)\s", result.stdout, re.MULTILINE))
    assert listed == set(cli.commands)
    assert {"serve", "demo", "shops", "keys", "tokens"} <= listed


def test_add_show_set_state(badge: Badge) -> None:
    added = badge.ok(
        "shops",
        "add",
        "--name",
        "Bücherwelt",
        "--legal-name",
        "Bücherwelt BV",
        "--enterprise-number",
        "BE 0123 456 749",
        "--domain",
        "https://WWW.Bücher-Welt.BE:8443/winkel",
        "--domain",
        "shop-two.be.",
        "--category",
        "Sponsor",
        "--category",
        "b2c-member",
        "--valid-until",
        "2099-12-31",
    )
    last = added.stdout.strip().splitlines()[-1]
    assert ID_LINE.match(last), added.stdout
    shop_id = last

    shown = json.loads(badge.ok("shops", "show", shop_id, "--json").stdout)
    assert shown["id"] == shop_id
    assert shown["domains"] == ["xn--bcher-welt-9db.be", "shop-two.be"]
    assert shown["enterprise_number"] == "0123.456.749"
    assert shown["categories"] == ["b2c_member", "sponsor"]
    assert shown["state"] == "certified"
    assert shown["valid_until"] == "2099-12-31"
    assert [(e["from"], e["to"]) for e in shown["history"]] == [(None, "certified")]

    changed = badge.ok("shops", "set-state", shop_id, "suspended", "--reason", "committee review")
    assert "certified -> suspended" in changed.stdout

    text = badge.ok("shops", "show", shop_id).stdout
    assert re.search(r"^state:\s+suspended since ", text, re.MULTILINE), text
    # Every moment printed is Belgian wall-clock time, named as such; never UTC.
    moments = re.findall(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} (\S+)", text)
    assert len(moments) == 3, text
    assert set(moments) <= {"CET", "CEST"}, text
    assert "+00:00" not in text
    assert re.search(r"certified -> suspended\s+by cli:\S+: committee review$", text, re.MULTILINE)

    reg = badge.registry()
    try:
        history = reg.history(shop_id)
    finally:
        reg.close()
    assert [(e.from_state, e.to_state, e.reason) for e in history] == [
        (None, "certified", "registered"),
        ("certified", "suspended", "committee review"),
    ]
    assert history[-1].actor.startswith("cli:")


ADD = (
    "shops",
    "add",
    "--name",
    "Nieuwe Winkel",
    "--legal-name",
    "Nieuwe Winkel BV",
)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ("shops", "set-state", "{revoked}", "suspended", "--reason", "x"),
            "a revoked shop cannot become suspended",
            id="illegal-transition",
        ),
        pytest.param(
            ("shops", "set-state", "{certified}", "certified", "--reason", "x"),
            "already certified",
            id="same-state",
        ),
        pytest.param(
            ("shops", "set-state", "{certified}", "expired", "--reason", "x"),
            "cannot be set",
            id="expired-cannot-be-set",
        ),
        pytest.param(
            ("shops", "set-state", "{certified}", "gold", "--reason", "x"),
            "unknown state 'gold'",
            id="unknown-state",
        ),
        pytest.param(
            ("shops", "set-state", "{certified}", "suspended", "--reason", "  "),
            "reason is empty",
            id="blank-reason",
        ),
        pytest.param(
            ("shops", "set-state", "abcdefghijkmnpqr", "suspended", "--reason", "x"),
            "no shop with id",
            id="set-state-unknown-shop",
        ),
        pytest.param(("shops", "show", "abcdefghijkmnpqr"), "no shop with id", id="show-unknown"),
        pytest.param(("shops", "show", "../etc/passwd"), "no shop with id", id="show-odd-id"),
        pytest.param(
            (*ADD, "--enterprise-number", "0123.456.748", "--domain", "nieuw.be"),
            "check digit",
            id="bad-enterprise-number",
        ),
        pytest.param(
            (*ADD, "--enterprise-number", "0123.456.749", "--domain", "shop_x.be"),
            "not a valid domain name",
            id="malformed-domain",
        ),
        pytest.param(
            (*ADD, "--enterprise-number", "0123.456.749", "--domain", "localhost"),
            "needs at least a name and a top-level domain",
            id="one-label-domain",
        ),
        pytest.param(
            (*ADD, "--enterprise-number", "0123.456.749", "--domain", "192.168.0.1"),
            "IP address",
            id="ip-domain",
        ),
        pytest.param(
            (*ADD, "--enterprise-number", "0123.456.749", "--domain", "www.Bakkerij-Demo.be"),
            "already registered",
            id="domain-taken",
        ),
        pytest.param(
            (*ADD, "--enterprise-number", "0123.456.749", "--domain", "n.be", "--category", "vip"),
            "unknown category 'vip'",
            id="unknown-category",
        ),
        pytest.param(
            (*ADD, "--enterprise-number", "0123.456.749", "--domain", "n.be", "--state", "gold"),
            "unknown state 'gold'",
            id="add-unknown-state",
        ),
        pytest.param(
            (*ADD, "--enterprise-number", "0123.456.749", "--domain", "n.be", "--state", "expired"),
            "cannot be set",
            id="add-expired",
        ),
        pytest.param(
            (
                *ADD,
                "--enterprise-number",
                "0123.456.749",
                "--domain",
                "n.be",
                "--valid-until",
                "31/12",
            ),
            "valid_until",
            id="bad-date",
        ),
        pytest.param(("tokens", "create", " "), "token name is empty", id="blank-token-name"),
    ],
)
def test_bad_input_fails_cleanly(
    seeded: tuple[Badge, str], args: tuple[str, ...], message: str
) -> None:
    b, demo_out = seeded
    ids = demo_ids(demo_out)
    before = b.snapshot()
    stderr = b.fails(*(arg.format(**ids) for arg in args))
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert message in stderr
    assert b.snapshot() == before


def test_bad_settings_fail_cleanly_without_leaking(seeded: tuple[Badge, str]) -> None:
    b, _ = seeded
    env = {"BADGE_DATABASE_URL": "mysql://badge:hunter2@db/badge"}
    stderr = b.fails("shops", "list", env=env)
    assert stderr.startswith("error: BADGE_DATABASE_URL")
    assert "hunter2" not in stderr


def test_a_registry_file_that_is_no_database_fails_cleanly(badge: Badge) -> None:
    badge.db.parent.mkdir(parents=True, exist_ok=True)
    badge.db.write_bytes(b"not sqlite at all " * 64)
    for args in (("shops", "list"), ("demo",)):
        stderr = badge.fails(*args)
        assert stderr.strip() == (
            f"error: cannot open the SQLite registry {badge.db}: file is not a database "
            "(BADGE_DATABASE_URL)"
        )
    assert badge.db.read_bytes() == b"not sqlite at all " * 64


def test_demo_is_idempotent(seeded: tuple[Badge, str]) -> None:
    b, first = seeded
    ids = demo_ids(first)
    assert set(ids) == {"certified", "suspended", "revoked", "expired"}
    assert len(set(ids.values())) == 4
    second = b.ok("demo").stdout
    assert second == first
    reg = b.registry()
    try:
        assert reg.count_shops() == 4
        states = {reg.get_shop(i).state for i in ids.values()}  # type: ignore[union-attr]
    finally:
        reg.close()
    # `expired` is derived: the stored state of that shop is still certified.
    assert states == {"certified", "suspended", "revoked"}


def test_demo_rewords_an_older_demo_attestation(badge: Badge) -> None:
    ids = demo_ids(badge.ok("demo").stdout)
    reg = badge.registry()
    try:
        (proof, *_) = reg.domain_proofs(ids["certified"])
        assert proof.status.note == DEMO_ATTESTATION
        # A demo registry seeded before the wording changed.
        reg.attest_domain(proof.shop_id, proof.domain, actor="demo", reason="older `demo` words")
    finally:
        reg.close()
    badge.ok("demo")
    listed = json.loads(badge.ok("domains", "list", "--json").stdout)
    assert {row["note"] for row in listed} == {DEMO_ATTESTATION}


def test_list(seeded: tuple[Badge, str]) -> None:
    b, demo_out = seeded
    ids = demo_ids(demo_out)
    listed = json.loads(b.ok("shops", "list", "--json").stdout)
    assert {s["id"]: s["state"] for s in listed} == {v: k for k, v in ids.items()}
    assert [s["display_name"] for s in listed] == sorted(s["display_name"] for s in listed)
    assert all(s["domains"] for s in listed)

    text = b.ok("shops", "list")
    lines = text.stdout.strip().splitlines()
    assert len(lines) == 4
    assert {line.split()[0] for line in lines} == set(ids.values())
    assert "4 shop(s)" in text.stderr


CSV_HEADER = "name,legal_name,enterprise_number,domains,categories,state,valid_until\n"


def test_import_good_csv_and_json(badge: Badge) -> None:
    csv_file = badge.root / "shops.csv"
    csv_file.write_text(
        CSV_HEADER
        + "Alpha,Alpha BV,0123.456.749,alpha.be;www.alpha-shop.be,b2c_member sponsor,,2099-01-01\n"
        + '"Beta, the shop",Beta NV,BE0970000097,Beta.BE,,suspended,\n',
        encoding="utf-8",
    )
    out = badge.ok("shops", "import", str(csv_file)).stdout
    assert "imported 2 shop(s)" in out
    printed = {line.split()[0]: line for line in out.splitlines() if ID_LINE.match(line.split()[0])}
    assert len(printed) == 2, out

    json_file = badge.root / "more.json"
    json_file.write_text(
        json.dumps(
            [
                {
                    "name": "Gamma",
                    "legal_name": "Gamma SRL",
                    "enterprise_number": "0123456749",
                    "domains": ["https://gamma.be/", "bücher-gamma.be"],
                    "categories": ["webshop_partner"],
                    "last_audit": "2025-05-05",
                }
            ]
        ),
        encoding="utf-8",
    )
    assert "imported 1 shop(s)" in badge.ok("shops", "import", str(json_file)).stdout

    reg = badge.registry()
    try:
        shops = {s.display_name: s for s in reg.list_shops()}
    finally:
        reg.close()
    assert set(shops) == {"Alpha", "Beta, the shop", "Gamma"}
    # The ids printed are the ids stored, each with its shop's name.
    assert {shops["Alpha"].id, shops["Beta, the shop"].id} == set(printed)
    assert "Alpha (alpha.be)" in printed[shops["Alpha"].id]
    assert shops["Alpha"].domains == ("alpha.be", "alpha-shop.be")
    assert shops["Alpha"].categories == ("b2c_member", "sponsor")
    assert str(shops["Alpha"].valid_until) == "2099-01-01"
    assert shops["Beta, the shop"].state == "suspended"
    assert shops["Beta, the shop"].domains == ("beta.be",)
    assert shops["Gamma"].domains == ("gamma.be", "xn--bcher-gamma-thb.be")
    assert str(shops["Gamma"].last_audit) == "2025-05-05"


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        pytest.param(
            "Alpha,Alpha BV,0123.456.749,alpha.be,,,\n"
            "Beta,Beta BV,0123.456.748,beta.be,,,\n"
            "Gamma,Gamma BV,0123.456.749,gamma.be,,,\n",
            ["line 3: enterprise number '0123.456.748' has a wrong check digit"],
            id="bad-check-digit",
        ),
        pytest.param(
            "Alpha,Alpha BV,0123.456.749,alpha.be,,,\n"
            "Beta,Beta BV,0123.456.749,beta.be,,,\n"
            "Gamma,Gamma BV,0123.456.749,www.alpha.be,,,\n",
            ["line 4: domain alpha.be also appears on line 2"],
            id="duplicate-domain-in-file",
        ),
        pytest.param(
            "Alpha,Alpha BV,0123.456.749,alpha.be,gold,,\n"
            "Beta,Beta BV,0123.456.749,beta.be,,expired,\n",
            ["line 2: unknown category 'gold'", "line 3: expired is derived"],
            id="every-bad-row-named",
        ),
    ],
)
def test_import_with_a_bad_row_writes_nothing(badge: Badge, rows: str, expected: list[str]) -> None:
    csv_file = badge.root / "shops.csv"
    csv_file.write_text(CSV_HEADER + rows, encoding="utf-8")
    stderr = badge.fails("shops", "import", str(csv_file))
    for fragment in expected:
        assert f"error: {fragment}" in stderr
    assert "nothing was imported" in stderr
    reg = badge.registry()
    try:
        assert reg.count_shops() == 0
        assert reg.change_cursor() == 0
    finally:
        reg.close()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param("shops.csv", b"name,legal_name\nA,B\n", "CSV header lacks", id="csv-header"),
        pytest.param(
            "shops.csv", CSV_HEADER.encode() + b"\xff\xfe,x,y,z,,,\n", "not UTF-8", id="not-utf8"
        ),
        pytest.param(
            "shops.csv",
            CSV_HEADER.encode() + b'A,B,"' + b"x" * 200_000 + b'",a.be,,,\n',
            "not valid CSV",
            id="csv-field-too-large",
        ),
        pytest.param("shops.json", b'{"name": "x"}', "expected a JSON list", id="json-object"),
        pytest.param("shops.json", b"[1]", "item 1 is not an object", id="json-item"),
        pytest.param("shops.json", b'[{"name": ', "not valid JSON", id="json-broken"),
        pytest.param("shops.json", b"[]", "no shops to import", id="json-empty"),
    ],
)
def test_import_odd_files_fail_cleanly(
    badge: Badge, name: str, content: bytes, message: str
) -> None:
    path = badge.root / name
    path.write_bytes(content)
    stderr = badge.fails("shops", "import", str(path))
    assert message in stderr


def test_tokens_create(badge: Badge) -> None:
    badge.ok("demo")
    created = badge.ok("tokens", "create", "crm")
    lines = created.stdout.strip().splitlines()
    token = lines[-1]
    assert TOKEN_LINE.match(token), created.stdout
    assert token not in "\n".join(lines[:-1])
    reg = badge.registry()
    try:
        # Stored hashed, never in the clear.
        assert reg.token_digests() == [("crm", hashlib.sha256(token.encode()).hexdigest())]
    finally:
        reg.close()
    assert token.encode() not in badge.db.read_bytes()

    stderr = badge.fails("tokens", "create", "crm")
    assert "already exists" in stderr
    assert token not in stderr


def test_keys_generate_rotate_list(badge: Badge) -> None:
    first = badge.ok("keys", "generate").stdout.strip()
    match = re.fullmatch(r"generated signing key (\S+)", first)
    assert match, first
    kid = match.group(1)
    again = badge.ok("keys", "generate").stdout.strip()
    assert again == f"already have signing key {kid}"

    rotated = badge.ok("keys", "rotate").stdout.strip()
    match = re.fullmatch(r"signing with new key (\S+)", rotated)
    assert match, rotated
    new_kid = match.group(1)
    assert new_kid != kid

    listed = badge.ok("keys", "list").stdout.strip().splitlines()
    roles = {line.split()[0]: line.split()[1] for line in listed}
    assert roles == {new_kid: "signing", kid: "published"}

    pems = sorted(badge.keys_dir.glob("*.pem"))
    assert [p.stem for p in pems] == sorted([kid, new_kid])
    for path in [*pems, badge.keys_dir / "keys.json"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(badge.keys_dir.stat().st_mode) & 0o077 == 0
    for output in (first, again, rotated, *listed):
        assert "PRIVATE" not in output


def test_undecodable_bytes_on_the_command_line_are_refused(tmp_path: Path) -> None:
    """Invalid UTF-8 in argv arrives as lone surrogates; it must not reach the database."""
    env = {
        **os.environ,
        "BADGE_DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}",
        "BADGE_KEYS_DIR": str(tmp_path / "keys"),
    }
    result = subprocess.run(
        [
            sys.executable.encode(),
            b"-m",
            b"badge",
            b"shops",
            b"add",
            b"--name",
            b"Caf\xe9",
            b"--legal-name",
            b"Cafe BV",
            b"--enterprise-number",
            b"0123.456.749",
            b"--domain",
            b"cafe-bytes.be",
        ],
        env=env,
        capture_output=True,
    )
    assert result.returncode == 1
    assert b"not valid Unicode" in result.stderr
    assert b"Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("shops", "list"), id="list"),
        pytest.param(("shops", "list", "--json"), id="list-json"),
        pytest.param(("shops", "show", "abcdefghijkmnpqr"), id="show"),
        pytest.param(
            ("shops", "set-state", "abcdefghijkmnpqr", "revoked", "--reason", "x"), id="set"
        ),
        pytest.param(("tokens", "create", "crm"), id="token"),
        pytest.param(("render", "abcdefghijkmnpqr", "--format", "svg", "-o", "x.svg"), id="render"),
    ],
)
def test_read_commands_never_make_a_registry(tmp_path: Path, args: tuple[str, ...]) -> None:
    """Run from a folder without var/: say where we looked and how to point elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BADGE_")}
    result = subprocess.run(
        [sys.executable, "-m", "badge", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith(f"error: no registry at {tmp_path / 'var' / 'badge.db'}")
    assert "BADGE_DATABASE_URL=sqlite:///" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "var" / "badge.db").exists()
    assert "0 shop(s)" not in result.stderr


def test_verify_without_a_registry_says_so(badge: Badge) -> None:
    """Keys but no registry (a copied keys dir, the wrong folder): no empty registry appears."""
    badge.ok("keys", "generate")
    from badge.settings import Settings
    from badge.signing import KeyStore

    store = KeyStore(badge.keys_dir, token_ttl=3600)
    store.ensure()
    token = store.sign({"iss": Settings().public_url, "sub": "abcdefghijkmnpqr", "exp": 2**40})
    saved = badge.root / "saved.svg"
    saved.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" '
        'xmlns:keurmerk="https://www.becommerce.be/ns/keurmerk-badge/1">'
        f"<keurmerk:assertion>{token}</keurmerk:assertion></svg>"
    )
    stderr = badge.fails("verify", str(saved))
    assert "no registry at" in stderr and "BADGE_DATABASE_URL" in stderr
    assert not badge.db.exists()


def test_commands_that_add_shops_may_start_a_registry(badge: Badge) -> None:
    assert not badge.db.exists()
    out = badge.ok("demo")
    assert badge.db.exists()
    assert len(demo_ids(out.stdout)) == 4


def test_demo_prints_urls_to_try_every_time(badge: Badge) -> None:
    for _ in range(2):
        result = badge.ok("demo")
        ids = demo_ids(result.stdout)
        base = "http://127.0.0.1:8000"
        assert f"{base}/v/{ids['certified']}" in result.stderr
        assert f"{base}/b/{ids['certified']}.svg" in result.stderr
        assert f"try: {base}/ " in result.stderr


def test_serve_refuses_a_busy_port_before_loading_the_app(badge: Badge) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # -X importtime lists every module imported: the refusal must come before the
        # heavy ones (uvicorn, the app and its fonts and renderer).
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "badge", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            env=badge.env(),
            cwd=badge.root,
            timeout=60,
        )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert errors == [
        f"error: port {port} on 127.0.0.1 is already in use; stop the other server or choose "
        "another port (--port or BADGE_PORT)"
    ]
    imported = {
        line.split("|")[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "badge.cli" in imported
    assert not {"uvicorn", "badge.app", "cairosvg", "badge.render.text"} & imported


@pytest.mark.postgres
def test_read_commands_never_make_tables_in_an_empty_postgres(badge: Badge, pg_url: str) -> None:
    import psycopg

    env = {"BADGE_DATABASE_URL": pg_url}
    stderr = badge.fails("shops", "list", env=env)
    assert stderr.startswith("error: no registry in postgresql://")
    assert "BADGE_DATABASE_URL" in stderr
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert tables.fetchone() == (0,)
    # A command that adds shops starts the registry there; reads work from then on.
    assert len(demo_ids(badge.ok_env(env, "demo").stdout)) == 4
    assert len(badge.ok_env(env, "shops", "list").stdout.strip().splitlines()) == 4
