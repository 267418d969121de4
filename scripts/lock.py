"""The lock of tested versions: uv.lock, and the hash-checked files exported from it.

uv.lock is the one lock. Three installs cannot run uv from the lock directly, so they read
requirements files exported from it, each with every wheel's hash:

  requirements/uv.txt       uv itself, which `make` bootstraps with `pip --require-hashes`
  requirements/build.txt    the build backend of the Dockerfile's wheel
  requirements/runtime.txt  the runtime, installed in the image with `pip --require-hashes`

  python scripts/lock.py [--root DIR] export   rewrite the three files from uv.lock
  python scripts/lock.py [--root DIR] check    exit 1, saying what differs, when
                                              pyproject.toml, uv.lock and the files disagree
  python scripts/lock.py changes OLD NEW      print the versions that differ between locks
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = "keurmerk-badge"

# file name -> the `uv export` arguments that select its packages
EXPORTS: dict[str, list[str]] = {
    "uv.txt": ["--only-group", "uv"],
    "build.txt": ["--only-group", "build"],
    "runtime.txt": ["--no-dev"],
}


def uv() -> str:
    """The uv next to this interpreter (the project's venv), else the one on PATH."""
    here = Path(sys.executable).parent / "uv"
    found = str(here) if here.exists() else shutil.which("uv")
    if found is None:
        sys.exit("lock.py: uv not found; `make lock` installs it into .venv")
    return found


def exported(name: str, root: Path = ROOT) -> str:
    args = [uv(), "export", "--frozen", "--no-emit-project", "--format", "requirements-txt"]
    args += [*EXPORTS[name], "--no-header"]
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    done = subprocess.run(args, cwd=root, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"lock.py: {' '.join(args[1:])} failed:\n{done.stderr}")
    header = (
        f"# Exported from uv.lock by `make lock` (scripts/lock.py); do not edit.\n"
        f"# Install with: pip install --no-deps --require-hashes -r requirements/{name}\n"
    )
    return header + done.stdout


def export(root: Path = ROOT) -> None:
    folder = root / "requirements"
    folder.mkdir(exist_ok=True)
    for name in EXPORTS:
        (folder / name).write_text(exported(name, root))
        print(f"wrote requirements/{name}")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_key(text: str, marker: str | None = None) -> tuple[str, ...]:
    """A requirement as (name, extras, specifier, marker), written the way uv.lock does."""
    from packaging.requirements import Requirement

    parsed = Requirement(text)
    markers = [str(parsed.marker)] if parsed.marker else []
    if marker:
        markers.append(marker)
    return (
        _canonical(parsed.name),
        ",".join(sorted(parsed.extras)),
        str(parsed.specifier),
        " and ".join(markers),
    )


def _locked_key(entry: dict[str, object]) -> tuple[str, ...]:
    from packaging.specifiers import SpecifierSet

    extras = entry.get("extras") or []
    assert isinstance(extras, list)
    return (
        _canonical(str(entry["name"])),
        ",".join(sorted(str(extra) for extra in extras)),
        str(SpecifierSet(str(entry.get("specifier", "")))),
        str(entry.get("marker", "")),
    )


def drift(root: Path = ROOT) -> list[str]:
    """What pyproject.toml asks for that uv.lock was not made from, and the reverse."""
    project = tomllib.loads((root / "pyproject.toml").read_text())
    lock = tomllib.loads((root / "uv.lock").read_text())
    ours = next(p for p in lock["package"] if p["name"] == PROJECT)
    metadata = ours.get("metadata", {})

    wanted = {_requirement_key(text) for text in project["project"].get("dependencies", [])}
    for extra, texts in project["project"].get("optional-dependencies", {}).items():
        wanted |= {_requirement_key(text, f"extra == '{extra}'") for text in texts}
    locked = {_locked_key(entry) for entry in metadata.get("requires-dist", [])}

    groups = {
        group: {_requirement_key(text) for text in texts}
        for group, texts in project.get("dependency-groups", {}).items()
    }
    locked_groups = {
        group: {_locked_key(entry) for entry in entries}
        for group, entries in metadata.get("requires-dev", {}).items()
    }

    problems = [f"in pyproject.toml, not in uv.lock: {_show(key)}" for key in wanted - locked]
    problems += [f"in uv.lock, not in pyproject.toml: {_show(key)}" for key in locked - wanted]
    for group in sorted(set(groups) | set(locked_groups)):
        for key in groups.get(group, set()) - locked_groups.get(group, set()):
            problems.append(f"group {group} in pyproject.toml, not in uv.lock: {_show(key)}")
        for key in locked_groups.get(group, set()) - groups.get(group, set()):
            problems.append(f"group {group} in uv.lock, not in pyproject.toml: {_show(key)}")
    for name in EXPORTS:
        path = root / "requirements" / name
        if not path.exists() or path.read_text() != exported(name, root):
            problems.append(f"requirements/{name} is not what uv.lock exports")
    if problems:
        return sorted(problems)
    # uv's own verdict on the rest (requires-python, sources, options), offline: it reads the
    # lock's recorded inputs and fetches nothing.
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    args = [uv(), "lock", "--check", "--offline", "--quiet"]
    done = subprocess.run(args, cwd=root, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        problems.append(f"uv lock --check: {done.stderr.strip()}")
    return sorted(problems)


def _show(key: tuple[str, ...]) -> str:
    name, extras, specifier, marker = key
    text = name + (f"[{extras}]" if extras else "") + specifier
    return text + (f" ; {marker}" if marker else "")


def versions(path: Path) -> dict[str, str]:
    lock = tomllib.loads(path.read_text())
    return {p["name"]: p.get("version", "") for p in lock["package"] if p["name"] != PROJECT}


def changes(old: Path, new: Path) -> None:
    before, after = versions(old), versions(new)
    lines = []
    for name in sorted(set(before) | set(after)):
        was, now = before.get(name), after.get(name)
        if was != now:
            lines.append(f"  {name}: {was or '(new)'} -> {now or '(removed)'}")
    print(f"{len(lines)} package(s) changed" + (":" if lines else ""))
    for line in lines:
        print(line)


def main(argv: list[str]) -> int:
    root = ROOT
    if argv[:1] == ["--root"] and len(argv) > 2:
        root, argv = Path(argv[1]).resolve(), argv[2:]
    if argv[:1] == ["export"]:
        export(root)
        return 0
    if argv[:1] == ["check"]:
        problems = drift(root)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("pyproject.toml and the lock disagree: run `make lock`", file=sys.stderr)
        return 1 if problems else 0
    if argv[:1] == ["changes"] and len(argv) == 3:
        changes(Path(argv[1]), Path(argv[2]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
