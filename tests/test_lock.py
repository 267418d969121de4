"""The lock of tested versions (uv.lock) is what every install reads, and it matches
pyproject.toml: a dependency added to one and not the other fails here until `make lock`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import ROOT

LOCK_SCRIPT = ROOT / "scripts" / "lock.py"


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LOCK_SCRIPT), "--root", str(root), "check"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_of_the_lock(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", "uv.lock", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    return tmp_path


def test_pyproject_and_the_lock_agree() -> None:
    result = check(ROOT)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("table", "line"),
    [
        pytest.param("dependencies = [", '    "six>=1.16",', id="runtime"),
        pytest.param("test = [", '    "six>=1.16",', id="extra"),
        pytest.param("build = [", ' "six>=1.16",', id="group"),
    ],
)
def test_a_dependency_in_pyproject_alone_is_drift(tmp_path: Path, table: str, line: str) -> None:
    root = copy_of_the_lock(tmp_path)
    text = (root / "pyproject.toml").read_text()
    assert table in text
    (root / "pyproject.toml").write_text(text.replace(table, table + "\n" + line, 1))
    result = check(root)
    assert result.returncode == 1
    assert "in pyproject.toml, not in uv.lock: six>=1.16" in result.stderr
    assert "make lock" in result.stderr


def test_a_changed_range_is_drift(tmp_path: Path) -> None:
    root = copy_of_the_lock(tmp_path)
    text = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(text.replace('"redis>=5.0"', '"redis>=5.1"', 1))
    result = check(root)
    assert result.returncode == 1
    assert "redis>=5.1" in result.stderr
    assert "in uv.lock, not in pyproject.toml: redis>=5.0" in result.stderr


def test_an_edited_export_is_drift(tmp_path: Path) -> None:
    root = copy_of_the_lock(tmp_path)
    runtime = root / "requirements" / "runtime.txt"
    runtime.write_text(runtime.read_text().replace("redis==", "redis==0.", 1))
    result = check(root)
    assert result.returncode == 1
    assert "requirements/runtime.txt is not what uv.lock exports" in result.stderr


def install_commands(path: Path) -> list[str]:
    """Each shell command of a file, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    return [line.strip() for line in text.splitlines() if not line.strip().startswith("#")]


def installers() -> list[Path]:
    files = [ROOT / "Makefile", ROOT / "Dockerfile", ROOT / ".ci" / "run"]
    return files + sorted((ROOT / "scripts").glob("*.sh")) + sorted((ROOT / "scripts").glob("*.py"))


def test_no_install_bypasses_the_lock() -> None:
    seen = []
    for path in installers():
        for line in install_commands(path):
            for found in re.finditer(r"pip (install|wheel)\b[^;&|]*", line):
                command = found.group(0)
                seen.append(command)
                hashed = "--require-hashes" in command and "--no-deps" in command
                # The service's own wheel, built one stage earlier from this tree.
                own_wheel = "--no-index" in command and "--no-deps" in command
                assert hashed or own_wheel, f"{path.name}: {command}"
            assert "uv pip install" not in line, f"{path.name}: {line}"
            if re.search(r"\buv sync\b|\$\(SYNC\)", line) and "SYNC :=" not in line:
                assert "--frozen" in line or "$(SYNC)" in line, f"{path.name}: {line}"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^SYNC := \$\(UV\) sync --frozen\b", makefile, re.M)
    # The bootstrap of uv, the Dockerfile's build backend, its runtime and its own wheel.
    assert len(seen) >= 4, seen
