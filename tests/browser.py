"""Headless Chromium from Debian for the browser tests, with shop host names mapped to loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")


@contextmanager
def chromium(*mapped_hosts: str) -> Iterator[Any]:
    """A launched browser in which each of `mapped_hosts` resolves to 127.0.0.1."""
    if not CHROMIUM.exists():
        pytest.fail("needs Debian's chromium at /usr/bin/chromium; `make test` installs it")
    from playwright.sync_api import sync_playwright

    rules = ", ".join(f"MAP {host} 127.0.0.1" for host in mapped_hosts)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                *([f"--host-resolver-rules={rules}"] if rules else []),
            ],
        )
        try:
            yield launched
        finally:
            launched.close()
