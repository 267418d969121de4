"""A bounded schemathesis run over /openapi.json against the real server, with every
check: no 5xx and no contract mismatch (a response outside the document, schema-valid
input refused, schema-violating input accepted).

Every operation, admin ones included (with a token), with generated and mutated input;
path ids point at a real shop so the runs reach past the 404s. Bounded in time (the run
stops after RUN_SECONDS) and in examples per operation.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import Service, cli, service_env

pytestmark = pytest.mark.server

RUN_SECONDS = 40
EXAMPLES = 15
# Input the schemas cannot fully state, so schema-valid input may still be refused, with
# the documented 4xx that names the reason:
# - a shop's enterprise number has check digits, and its dates must be in order (also
#   against the stored shop, for an update);
# - a badge check takes any bytes, and only a real badge file gets a verdict.
# The coverage phase walks every boundary of every field; for the shop and upload bodies it
# would take longer than the whole run may, so only their other phases run.
OPERATIONS = (
    # method, path, schema-valid input may be refused, coverage phase
    ("POST", "/admin/api/v1/shops", True, False),
    ("PATCH", "/admin/api/v1/shops/{id}", True, True),
    ("POST", "/api/v1/verify", True, False),
    ("POST", "/verify", True, False),
)
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "400", "413", "415", "422"]
# Schema-violating input must be refused. schemathesis's default list of refusals, plus the
# 413: a body over a route's size limit is refused before it is read, whatever it breaks.
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]


def config_text(shop_id: str) -> str:
    lines = [
        f'[parameters]\n"path.id" = "{shop_id}"\n',
        f"[checks.negative_data_rejection]\nexpected-statuses = {REFUSALS}\n",
    ]
    for method, path, refused, coverage in OPERATIONS:
        lines.append(f'[[operations]]\ninclude-method = "{method}"\ninclude-path = "{path}"')
        if refused:
            lines.append(f"checks.positive_data_acceptance.expected-statuses = {ACCEPTED}")
        if not coverage:
            lines.append("phases.coverage.enabled = false")
        lines.append("")
    return "\n".join(lines)


def test_no_contract_mismatches_and_no_server_errors(tmp_path: Path) -> None:
    # Generated traffic comes from one client: rate limits would turn most of it into 429s.
    env = service_env(
        tmp_path, BADGE_RATE_UPLOADS="0", BADGE_RATE_LOOKUPS="0", BADGE_RATE_ADMIN="0"
    )
    demo = cli(env, "demo")
    assert demo.returncode == 0, demo.stderr
    shop_id = demo.stdout.split()[0]
    token = cli(env, "tokens", "create", "schemathesis").stdout.strip().splitlines()[-1]
    config = tmp_path / "schemathesis.toml"
    config.write_text(config_text(shop_id), encoding="utf-8")
    service = Service(env)
    service.start()
    try:
        run = subprocess.run(
            [
                *(sys.executable, "-m", "schemathesis.cli"),
                *("--config-file", str(config)),
                "run",
                f"{service.base}/openapi.json",
                *("--checks", "all"),
                *("--max-examples", str(EXAMPLES)),
                *("--max-time", str(RUN_SECONDS)),
                *("--header", f"Authorization: Bearer {token}"),
                *("--workers", "2"),
                *("--request-timeout", "10"),
                *("--suppress-health-check", "all"),
                *("--seed", "13"),
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=RUN_SECONDS + 60,
            cwd=tmp_path,
        )
    finally:
        service.stop()
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]
    assert "Server error" not in run.stdout
    assert " passed" in run.stdout
