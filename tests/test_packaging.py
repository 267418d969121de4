"""The wheel is the whole service: templates, static files and catalogs ship inside `badge`
(the static files from `static/` at the top of the repository, as badge/static).

Built from this tree once per session, then read as a zip and run from where it was
unpacked, away from the repository, the way `pip install .` would serve it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "badge"


def _shipped_sources() -> set[str]:
    """Every non-Python file the service reads at run time, as wheel paths."""
    found = {f"badge/static/{path.name}" for path in (ROOT / "static").iterdir() if path.is_file()}
    for folder, pattern in (("templates", "*.html"), ("locales", "*/LC_MESSAGES/*.po")):
        for path in (PACKAGE / folder).glob(pattern):
            if path.is_file():
                found.add(path.relative_to(ROOT).as_posix())
    return found


def test_pyproject_lists_every_package() -> None:
    """setuptools is told the packages (it cannot find `badge.static`, which lives in
    static/): the list names every folder of badge/ with an __init__.py, and static."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in PACKAGE.rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert set(config["packages"]) == found | {"badge.static"}
    assert config["package-dir"] == {"badge.static": "static"}
    assert not (PACKAGE / "static").exists(), "static files live in static/ at the top"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # No build isolation: the test extras bring a recent setuptools, so this needs no network.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        cwd=out,
    )
    (built,) = out.glob("*.whl")
    return built


def test_the_source_list_is_not_empty() -> None:
    shipped = _shipped_sources()
    assert {"badge/static/verify.css", "badge/static/favicon.svg"} <= shipped
    assert "badge/templates/home.html" in shipped
    assert "badge/locales/fr/LC_MESSAGES/messages.po" in shipped


def test_wheel_holds_every_static_file_template_and_catalog(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    missing = _shipped_sources() - names
    assert missing == set(), f"not in the wheel: {sorted(missing)}"
    assert "badge/py.typed" in names
    # Nothing of the repository's other folders leaks into the package.
    assert not any(name.startswith(("tests/", "loadtests/", "static/", "docs/")) for name in names)


def test_wheel_metadata_says_what_this_is(wheel: Path) -> None:
    assert wheel.name.startswith("keurmerk_badge-")
    with zipfile.ZipFile(wheel) as archive:
        info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(info).decode())
        entry_points = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
        licence = next(n for n in archive.namelist() if n.endswith("/licenses/LICENSE"))
        assert b"BeCommerce" in archive.read(licence)
    assert metadata["Name"] == "keurmerk-badge"
    assert metadata["License-Expression"] == "LicenseRef-BeCommerce-Proprietary"
    assert "Keurmerk" in metadata["Summary"]
    assert metadata["Description-Content-Type"] == "text/markdown"
    assert "# Keurmerk badge service" in (metadata.get_payload() or "")
    assert "Homepage, https://www.becommerce.be/" in metadata.get_all("Project-URL", [])
    classifiers = metadata.get_all("Classifier", [])
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert "Private :: Do Not Upload" in classifiers
    assert "badge = badge.cli:main" in entry_points


def test_unpacked_wheel_serves_styles_and_the_home_page(wheel: Path, tmp_path: Path) -> None:
    """Imported from the unpacked wheel in another folder: nothing may come from the repo."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = textwrap.dedent(
        """
        import badge, sys
        from pathlib import Path
        from starlette.testclient import TestClient
        from badge.app import create_app
        from badge.settings import Secret, Settings

        assert Path(badge.__file__).is_relative_to(sys.argv[1]), badge.__file__
        settings = Settings(
            database_url=Secret("sqlite:///./var/badge.db"),
            keys_dir=Path("./var/keys"),
            render_processes=0,
        )
        with TestClient(create_app(settings)) as client:
            for path, kind in (
                ("/static/verify.css", "text/css"),
                ("/static/embed.css", "text/css"),
                ("/static/favicon.svg", "image/svg+xml"),
                ("/static/favicon.ico", "image/"),
                ("/", "text/html"),
                ("/?lang=fr", "text/html"),
                ("/verify", "text/html"),
            ):
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
                assert response.headers["content-type"].startswith(kind), path
        print("served")
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BADGE_")}
    env["PYTHONPATH"] = str(site)
    done = subprocess.run(
        [sys.executable, "-c", script, str(site)],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "served"
