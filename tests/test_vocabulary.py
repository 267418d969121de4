"""badge.vocabulary: each closed set is defined once, and everything else reads it there.

The proof: a copy of the package whose vocabulary.py alone gains a language and a scale,
run in its own process (the PNG worker processes import that copy too). The CLI's
choices, the OpenAPI enums, the hot path and the renderer all take them up.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest

from badge import vocabulary
from badge.registry import rules
from badge.web import patterns

ROOT = Path(__file__).resolve().parent.parent

# The one edit: a row in the languages table and a number in the scales.
LAST_LANGUAGE = '    "en": Language("English", "en_BE"),\n'
NEW_LANGUAGE = '    "lb": Language("Lëtzebuergesch", "lb_LU"),\n'
SCALES_LINE = "SCALES: Final[tuple[int, ...]] = (1, 2, 3)\n"
NEW_SCALES_LINE = "SCALES: Final[tuple[int, ...]] = (1, 2, 3, 4)\n"

PROBE = """
import json, struct
from datetime import timedelta
from pathlib import Path

import badge
from badge.app import create_app
from badge.cli import cli
from badge.platform.timeutil import today
from badge.registry import rules
from badge.registry.sqlite import SQLiteRegistry
from badge.settings import Secret, Settings
from badge.web.openapi import openapi_document
from starlette.testclient import TestClient

work = Path.cwd()
settings = Settings(
    database_url=Secret(f"sqlite:///{work / 'badge.db'}"),
    keys_dir=work / "keys",
    public_url="http://testserver",
)
registry = SQLiteRegistry(work / "badge.db")
shop = registry.create_shop(
    rules.validate_new_shop(
        display_name="Bakkerij Test",
        legal_name="Bakkerij Test BV",
        enterprise_number="0123.456.749",
        domains=("bakkerij-test.be",),
        categories=("b2c_member",),
        state="certified",
        certified_since=(today() - timedelta(days=400)).isoformat(),
        valid_until=(today() + timedelta(days=365)).isoformat(),
        last_audit=(today() - timedelta(days=30)).isoformat(),
        today=today(),
    ),
    actor="test",
)
registry.close()
params = {p.name: p for p in cli.commands["render"].params}
png_op = openapi_document("http://testserver")["paths"]["/b/{id}.png"]["get"]
enums = {p["name"]: p["schema"]["enum"] for p in png_op["parameters"] if "enum" in p["schema"]}
with TestClient(create_app(settings)) as client:
    png = client.get(f"/b/{shop.id}.png?lang=lb&scale=4")
    svg = client.get(f"/b/{shop.id}.svg?lang=lb")
    unknown = client.get(f"/b/{shop.id}.svg?lang=xx")
print(json.dumps({
    "package": badge.__path__[0],
    "cli_langs": list(params["lang"].type.choices),
    "cli_scales": list(params["scale"].type.choices),
    "openapi_langs": enums["lang"],
    "openapi_scales": enums["scale"],
    "png_status": png.status_code,
    "png_type": png.headers["content-type"],
    "png_size": list(struct.unpack(">II", png.content[16:24])),
    "svg_status": svg.status_code,
    "svg_title_lang": 'xml:lang="lb"' in svg.text,
    "unknown_status": unknown.status_code,
}))
"""


def test_the_literal_types_name_what_the_tables_hold() -> None:
    assert get_args(vocabulary.Lang) == vocabulary.LANGS == tuple(vocabulary.LANGUAGES)
    assert get_args(vocabulary.Format) == vocabulary.FORMATS


@pytest.mark.parametrize(
    "alphabet",
    [
        pytest.param(vocabulary.SHOP_ID_ALPHABET, id="shop-ids"),
        pytest.param("abc", id="one-run"),
        pytest.param("acegz", id="no-runs"),
        pytest.param("ab9", id="short-run"),
    ],
)
def test_the_character_class_matches_exactly_the_alphabet(alphabet: str) -> None:
    pattern = re.compile(f"[{vocabulary.character_class(alphabet)}]")
    printable = [chr(code) for code in range(32, 127)]
    assert {ch for ch in printable if pattern.fullmatch(ch)} == set(alphabet)


def test_shop_ids_are_checked_by_one_alphabet_everywhere() -> None:
    assert vocabulary.SHOP_ID_CLASS == "a-kmnp-z2-9"
    new_id = rules.new_shop_id()
    assert re.fullmatch(patterns.SHOP_ID_PATTERN, new_id)
    assert set(new_id) <= set(vocabulary.SHOP_ID_ALPHABET)
    assert not re.fullmatch(patterns.SHOP_ID_PATTERN, new_id[:-1] + "l")


def test_a_language_and_a_scale_added_in_the_vocabulary_reach_everything(
    tmp_path: Path,
) -> None:
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "badge", copy / "badge", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "static", copy / "static")
    path = copy / "badge" / "vocabulary.py"
    source = path.read_text()
    assert source.count(LAST_LANGUAGE) == 1 and source.count(SCALES_LINE) == 1
    path.write_text(
        source.replace(LAST_LANGUAGE, LAST_LANGUAGE + NEW_LANGUAGE).replace(
            SCALES_LINE, NEW_SCALES_LINE
        )
    )
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BADGE_")}
    env["PYTHONPATH"] = str(copy)
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["package"] == str(copy / "badge")
    assert "lb" in found["cli_langs"] and "4" in found["cli_scales"]
    assert "lb" in found["openapi_langs"] and 4 in found["openapi_scales"]
    # The hot path takes them, and the renderer (in its worker process) draws them.
    assert found["png_status"] == 200
    assert found["png_type"] == "image/png"
    width, height = vocabulary.SIZES[vocabulary.DEFAULT_SIZE]
    assert found["png_size"] == [4 * width, 4 * height]
    assert found["svg_status"] == 200 and found["svg_title_lang"]
    assert found["unknown_status"] == 400
