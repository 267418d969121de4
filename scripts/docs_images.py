"""`make docs-images`: the README's pictures, taken from a real server with the demo shops.

Writes into the folder given (docs/): each badge state as a PNG the service itself renders,
and the home and verification pages as headless Chromium (Debian's) sees them. Also
rebuilds static/favicon.ico from favicon.svg, so the two never drift apart.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import cairosvg
from PIL import Image
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import Service, free_port, get  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
STATIC = ROOT / "static"


def favicon() -> None:
    png = cairosvg.svg2png(
        bytestring=(STATIC / "favicon.svg").read_bytes(), output_width=64, output_height=64
    )
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    image.save(STATIC / "favicon.ico", sizes=[(16, 16), (32, 32), (48, 48)])


def demo_shops(env: dict[str, str]) -> dict[str, tuple[str, str]]:
    """State -> (id, first domain) of the demo shop in that state, from `badge demo`."""
    done = subprocess.run(
        [sys.executable, "-m", "badge", "demo"], env=env, capture_output=True, text=True, check=True
    )
    shops = {}
    for line in done.stdout.splitlines():
        found = re.match(r"([a-z2-9]{16})\s+(\w+)\s.*\(([^)]+)\)$", line)
        if found:
            shops[found.group(2)] = (found.group(1), found.group(3))
    return shops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, help="folder for the PNGs, e.g. docs")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    favicon()
    work = Path(tempfile.mkdtemp(prefix="badge-docs-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BADGE_")}
    env.update(
        BADGE_DATABASE_URL=f"sqlite:///{work / 'badge.db'}",
        BADGE_KEYS_DIR=str(work / "keys"),
        BADGE_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    shops = demo_shops(env)
    ids = {state: shop_id for state, (shop_id, _) in shops.items()}
    service = Service(env, port)
    service.start()
    try:
        # The page that shows a badge decides what it says: each one is fetched as its
        # shop's own site would (Referer), except the copied and the unlabelled ones.
        own = {state: f"https://{domain}/" for state, (_, domain) in shops.items()}
        badges = {
            "certified": (f"/b/{ids['certified']}.png", own["certified"]),
            "mismatch": (f"/b/{ids['certified']}.png", "https://copycat-shop.example/"),
            "neutral": (f"/b/{ids['certified']}.png", None),
            "suspended": (f"/b/{ids['suspended']}.png", own["suspended"]),
            "revoked": (f"/b/{ids['revoked']}.png", own["revoked"]),
            "expired": (f"/b/{ids['expired']}.png", own["expired"]),
            "unknown": ("/b/unknownshop2345.png", None),
        }
        for name, (path, referer) in badges.items():
            headers = {"referer": referer} if referer else {}
            status, body, _ = get(f"{service.base}{path}?lang=en&size=l&scale=2", headers)
            if status not in (200, 404) or not body.startswith(b"\x89PNG"):
                sys.exit(f"{path}: HTTP {status}")
            (out / f"badge-{name}.png").write_bytes(body)
            print(f"wrote {out / f'badge-{name}.png'}")
        pages = {
            "home": ("/?lang=en", None),
            "verification-page": (f"/v/{ids['certified']}?lang=en", own["certified"]),
            "verification-page-suspended": (f"/v/{ids['suspended']}?lang=nl", own["suspended"]),
        }
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(
                    viewport={"width": 1200, "height": 900}, device_scale_factor=1
                )
                page = context.new_page()
                for name, (path, referer) in pages.items():
                    page.goto(service.base + path, wait_until="networkidle", referer=referer)
                    page.screenshot(path=str(out / f"{name}.png"), full_page=True)
                    print(f"wrote {out / f'{name}.png'}")
            finally:
                browser.close()
    finally:
        service.stop()


if __name__ == "__main__":
    main()
