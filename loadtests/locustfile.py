"""A day on the badge service, compressed: mostly badges, some pages, a rare state change.

Shop ids come from LOCUST_SHOP_IDS (comma-separated); the rare state change needs
LOCUST_ADMIN_TOKEN and toggles LOCUST_TOGGLE_SHOP between certified and suspended.
"""

from __future__ import annotations

import os
import random

from locust import HttpUser, between, task

SHOP_IDS = [s for s in os.environ.get("LOCUST_SHOP_IDS", "").split(",") if s]
DOMAINS = [d for d in os.environ.get("LOCUST_DOMAINS", "").split(",") if d]
ADMIN_TOKEN = os.environ.get("LOCUST_ADMIN_TOKEN", "")
TOGGLE_SHOP = os.environ.get("LOCUST_TOGGLE_SHOP", "")
LANGS = ["nl", "nl", "nl", "fr", "fr", "de", "en"]


class Visitor(HttpUser):
    """A consumer's browser on a certified shop's pages."""

    wait_time = between(0.05, 0.3)

    def on_start(self) -> None:
        if not SHOP_IDS:
            raise RuntimeError("set LOCUST_SHOP_IDS to the shop ids to load")
        self.etags: dict[str, str] = {}

    def _badge(self, fmt: str) -> None:
        shop = random.choice(SHOP_IDS)
        lang = random.choice(LANGS)
        path = f"/b/{shop}.{fmt}?lang={lang}&size={random.choice('sml')}"
        if fmt == "png":
            path += f"&scale={random.choice('12')}"
        headers = {"Referer": f"https://{random.choice(DOMAINS or ['example.be'])}/product/1"}
        cached = self.etags.get(path)
        if cached is not None and random.random() < 0.7:
            headers["If-None-Match"] = cached  # a returning visitor revalidates
        with self.client.get(
            path, headers=headers, name=f"/b/[id].{fmt}", catch_response=True
        ) as response:
            if response.status_code == 200:
                self.etags[path] = response.headers.get("etag", "")
                response.success()
            elif response.status_code == 304 and cached is not None:
                response.success()
            else:
                response.failure(f"unexpected {response.status_code}")

    @task(60)
    def badge_svg(self) -> None:
        self._badge("svg")

    @task(20)
    def badge_png(self) -> None:
        self._badge("png")

    @task(6)
    def verification_page(self) -> None:
        shop = random.choice(SHOP_IDS)
        referer = f"https://{random.choice(DOMAINS or ['example.be'])}/"
        self.client.get(
            f"/v/{shop}?lang={random.choice(LANGS)}", headers={"Referer": referer}, name="/v/[id]"
        )

    @task(3)
    def lookup(self) -> None:
        domain = random.choice(DOMAINS or ["example.be"])
        self.client.get(f"/api/v1/lookup?domain=https://www.{domain}/", name="/api/v1/lookup")

    @task(2)
    def shop_json(self) -> None:
        self.client.get(f"/api/v1/shops/{random.choice(SHOP_IDS)}", name="/api/v1/shops/[id]")

    @task(1)
    def state_change(self) -> None:
        """Rare: an operator suspends or reinstates a shop through the admin API."""
        if not ADMIN_TOKEN or not TOGGLE_SHOP or random.random() > 0.1:
            return
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        current = self.client.get(
            f"/admin/api/v1/shops/{TOGGLE_SHOP}", headers=auth, name="/admin/api/v1/shops/[id]"
        )
        if current.status_code != 200:
            return
        target = "suspended" if current.json().get("state") == "certified" else "certified"
        with self.client.post(
            f"/admin/api/v1/shops/{TOGGLE_SHOP}/state",
            json={"state": target, "reason": "load test"},
            headers=auth,
            name="/admin/api/v1/shops/[id]/state",
            catch_response=True,
        ) as response:
            # Two users may race to toggle; a refused duplicate transition is not a failure.
            if response.status_code in (200, 201, 409):
                response.success()
