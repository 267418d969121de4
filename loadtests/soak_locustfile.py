"""The soak's mix: the load test's visitors, plus uploads, searches, bad badge requests and
operators editing shops (with a reason) next to the state changes."""

from __future__ import annotations

import os
import random

from locust import HttpUser, between, task

from loadtests import locustfile as base
from loadtests.locustfile import ADMIN_TOKEN, SHOPS, TOGGLE_SHOP

SHOP_IDS = [shop.id for shop in SHOPS]
DOMAINS = [domain for shop in SHOPS for domain in shop.domains]

EDIT_SHOP = os.environ.get("LOCUST_EDIT_SHOP", "")


class SoakVisitor(base.Browser):
    """The load test's visitor (badges, revalidation, pages, lookups, state changes).

    Imported through its module, so locust runs this class and not the original as well."""

    weight = 4


class Checker(HttpUser):
    """Someone checking a saved badge, searching, or sending odd badge URLs."""

    wait_time = between(0.2, 1.0)
    weight = 1

    def on_start(self) -> None:
        badge = self.client.get(f"/b/{SHOP_IDS[0]}.svg", name="/b/[id].svg (for upload)")
        self.badge = badge.content
        # Each kind once up front, so even a short run exercises all of them.
        self.upload_json_api()
        self.upload_form()
        self.search()
        self.bad_badge_request()
        self.edit_shop()

    @task(4)
    def upload_json_api(self) -> None:
        with self.client.post(
            "/api/v1/verify",
            data=self.badge,
            headers={"Content-Type": "image/svg+xml"},
            name="POST /api/v1/verify",
            catch_response=True,
        ) as response:
            if response.status_code == 200 and response.json().get("genuine") is True:
                response.success()
            else:
                response.failure(f"upload: {response.status_code}")

    @task(2)
    def upload_form(self) -> None:
        self.client.post(
            "/verify?lang=en",
            files={"file": ("badge.svg", self.badge, "image/svg+xml")},
            name="POST /verify",
        )

    @task(3)
    def search(self) -> None:
        word = random.choice(["bakkerij", "shop", "fiets", "zz", "be"])
        self.client.get(f"/verify?q={word}&lang=nl", name="/verify?q=")
        self.client.get(
            f"/verify?domain={random.choice(DOMAINS or ['x.be'])}", name="/verify?domain="
        )

    @task(3)
    def bad_badge_request(self) -> None:
        # Distinct bad values each time: memory must not grow with them.
        query = random.choice(
            [
                f"lang=x{random.randrange(10**9)}",
                f"size={random.randrange(10**9)}",
                # Over the 4 KB query bound (badge/serving/query.py): refused unparsed.
                "x=" + "a" * random.randrange(4100, 6000),
            ]
        )
        with self.client.get(
            f"/b/{random.choice(SHOP_IDS)}.svg?{query}", name="/b/[id].svg?bad", catch_response=True
        ) as response:
            if response.status_code == 400:
                response.success()
            else:
                response.failure(f"bad query: {response.status_code}")

    @task(1)
    def edit_shop(self) -> None:
        """An operator fixes a shop's record through the admin API, with a reason."""
        shop = EDIT_SHOP or TOGGLE_SHOP
        if not ADMIN_TOKEN or not shop:
            return
        with self.client.patch(
            f"/admin/api/v1/shops/{shop}",
            json={
                "last_audit": f"2026-0{random.randrange(1, 10)}-1{random.randrange(10)}",
                "reason": "soak: audit date corrected",
            },
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            name="PATCH /admin/api/v1/shops/[id]",
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                response.success()
            else:
                response.failure(f"edit: {response.status_code} {response.text[:200]}")
