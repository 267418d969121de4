"""Traffic shaped like real embeds of real shops: what `make loadtest` sends.

Shops come from LOCUST_SHOPS, a JSON file of `[{"id": ..., "domains": [...]}, ...]` that
loadtests/run_locust.py writes (from a file, the target's public API, or the demo shops).

Each simulated browser is on one shop's site at a time:
- the badge image with that site as Referer, mostly the shop's own registered domains,
  some foreign sites (comparison sites, forums), some pages that send no Referer;
- the script embed's `?d=` with the page's host, and a share of hosts never seen before;
- PNGs for retina screens;
- returning visitors revalidate with If-None-Match (the ETag they were given) once their
  copy is older than the response's max-age, and send nothing before (the browser cache
  answers). LOCUST_TIME_SCALE (default 1) makes a browser's clock run faster, so that short
  runs see revalidations too: at 60, a max-age of 240 s passes in 4 s of the run;
- clicks to /v, a few lookups and uploads of a badge to check;
- with LOCUST_ADMIN_TOKEN, an operator's reads of the admin API; with LOCUST_TOGGLE_SHOP
  as well, a rare state change of that one shop (never of any other).
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from dataclasses import dataclass

import gevent
from locust import HttpUser, between, events, task
from locust import stats as locust_stats
from locust.clients import ResponseContextManager


@dataclass(frozen=True)
class ShopSite:
    id: str
    domains: tuple[str, ...]


def _shops() -> list[ShopSite]:
    path = os.environ.get("LOCUST_SHOPS", "")
    if not path:
        return []
    with open(path) as handle:
        rows = json.load(handle)
    return [ShopSite(str(row["id"]), tuple(row.get("domains") or ())) for row in rows]


SHOPS = _shops()
ADMIN_TOKEN = os.environ.get("LOCUST_ADMIN_TOKEN", "")
TOGGLE_SHOP = os.environ.get("LOCUST_TOGGLE_SHOP", "")
LANGS = ["nl", "nl", "nl", "fr", "fr", "de", "en"]
FOREIGN_SITES = ["www.vergelijk-winkels.example", "forum.koopjes.example", "blog.example.org"]
# Shares of badge views by the page showing them.
OWN_SITE, FOREIGN_SITE = 0.80, 0.15  # the rest sends no Referer
RETURNING = 0.30
TIME_SCALE = float(os.environ.get("LOCUST_TIME_SCALE", "1") or 1)
NEW_HOST = 0.10
MAX_AGE = re.compile(r"max-age=(\d+)")


@events.quit.add_listener
def _last_csv_rows(**_: object) -> None:
    """locust rewrites its CSV files once a second and not again at exit, so they missed the
    last second's requests (303 of 315 in one run). One more turn for that writer, here,
    before the files close, leaves the final figures in them."""
    gevent.sleep(locust_stats.CSV_STATS_INTERVAL_SEC + 0.2)


class Browser(HttpUser):
    """A consumer's browser on a shop's pages, moving to another shop now and then."""

    wait_time = between(0.05, 0.3)

    def on_start(self) -> None:
        if not SHOPS:
            raise RuntimeError("LOCUST_SHOPS names no shops (see loadtests/run_locust.py)")
        # (path, Referer) -> (ETag, when it was fetched or revalidated, its max-age), as a
        # browser cache keeps it.
        self.cache: dict[tuple[str, str | None], tuple[str, float, int]] = {}
        self.uploads: list[bytes] = []
        self._visit()

    def _visit(self) -> None:
        self.shop = random.choice(SHOPS)
        draw = random.random()
        if draw < OWN_SITE and self.shop.domains:
            self.page_host: str | None = random.choice(self.shop.domains)
        elif draw < OWN_SITE + FOREIGN_SITE:
            self.page_host = random.choice(FOREIGN_SITES)
        else:
            self.page_host = None
        self.lang = random.choice(LANGS)

    @property
    def referer(self) -> str | None:
        return None if self.page_host is None else f"https://{self.page_host}/"

    def _kind(self) -> str:
        if self.page_host is None:
            return "no referer"
        return "own site" if self.page_host in self.shop.domains else "foreign site"

    def _badge(self, path: str, name: str) -> None:
        referer = self.referer
        headers = {"Referer": referer} if referer else {}
        cached = self.cache.get((path, referer))
        revalidating = cached is not None and random.random() < RETURNING
        if cached is not None and revalidating:
            etag, fetched_at, max_age = cached
            if (time.monotonic() - fetched_at) * TIME_SCALE < max_age:
                return  # still fresh: the browser shows its copy and asks nothing
            headers["If-None-Match"] = etag
            name = f"{name} revalidation"
        with self.client.get(path, headers=headers, name=name, catch_response=True) as answer:
            self._judge_badge(answer, path, referer, revalidating)

    def _judge_badge(
        self, answer: ResponseContextManager, path: str, referer: str | None, revalidating: bool
    ) -> None:
        if answer.status_code in (200, 304):
            found = MAX_AGE.search(answer.headers.get("cache-control", ""))
            etag = answer.headers.get("etag", "")
            if found is not None and etag:
                self.cache[(path, referer)] = (etag, time.monotonic(), int(found.group(1)))
        if answer.status_code == 200:
            if ".svg?" in path and len(self.uploads) < 2:
                self.uploads.append(answer.content)
            answer.success()
        elif answer.status_code == 304 and revalidating:
            answer.success()
        else:
            answer.failure(f"unexpected {answer.status_code}")

    @task(45)
    def image_embed(self) -> None:
        size = random.choice("smmml")
        self._badge(
            f"/b/{self.shop.id}.svg?lang={self.lang}&size={size}",
            f"/b/[id].svg {self._kind()}",
        )

    @task(15)
    def script_embed(self) -> None:
        """embed.js passes the page's host as `d`; now and then a host never seen before."""
        if random.random() < NEW_HOST:
            host = f"shop-{random.randrange(10**9)}.example"
            name = "/b/[id].svg?d= new host"
        else:
            host = self.page_host or random.choice(FOREIGN_SITES)
            name = "/b/[id].svg?d= page host"
        self._badge(f"/b/{self.shop.id}.svg?lang={self.lang}&d={host}", name)

    @task(15)
    def retina_png(self) -> None:
        scale = random.choice("22223")
        self._badge(f"/b/{self.shop.id}.png?lang={self.lang}&scale={scale}", "/b/[id].png")

    @task(6)
    def click(self) -> None:
        """The consumer clicks the badge: the verification page, from the shop's page."""
        headers = {"Referer": self.referer} if self.referer else {}
        self.client.get(f"/v/{self.shop.id}?lang={self.lang}", headers=headers, name="/v/[id]")
        self._visit()

    @task(2)
    def lookup(self) -> None:
        domain = random.choice(self.shop.domains or FOREIGN_SITES)
        with self.client.get(
            f"/api/v1/lookup?domain={domain}", name="/api/v1/lookup", catch_response=True
        ) as answer:
            _accept(answer, (200, 404, 429))

    @task(1)
    def upload(self) -> None:
        """A consumer checks a saved badge; per-client limits may refuse a load generator."""
        if not self.uploads:
            return
        with self.client.post(
            "/api/v1/verify",
            data=random.choice(self.uploads),
            headers={"Content-Type": "image/svg+xml"},
            name="/api/v1/verify upload",
            catch_response=True,
        ) as answer:
            _accept(answer, (200, 429))

    @task(1)
    def operator(self) -> None:
        """Admin reads, and (rarely) a state change of LOCUST_TOGGLE_SHOP alone."""
        if not ADMIN_TOKEN:
            return
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        if random.random() < 0.5:
            self.client.get("/admin/api/v1/shops?limit=20", headers=auth, name="/admin/shops")
        else:
            self.client.get("/admin/api/v1/sightings", headers=auth, name="/admin/sightings")
        if TOGGLE_SHOP and random.random() < 0.1:
            self._toggle(auth)

    def _toggle(self, auth: dict[str, str]) -> None:
        current = self.client.get(
            f"/admin/api/v1/shops/{TOGGLE_SHOP}", headers=auth, name="/admin/shops/[id]"
        )
        if current.status_code != 200:
            return
        target = "suspended" if current.json().get("state") == "certified" else "certified"
        with self.client.post(
            f"/admin/api/v1/shops/{TOGGLE_SHOP}/state",
            json={"state": target, "reason": "load test"},
            headers=auth,
            name="/admin/shops/[id]/state",
            catch_response=True,
        ) as answer:
            # Two users may race to toggle; a refused duplicate transition is not a failure.
            _accept(answer, (200, 201, 409))


def _accept(answer: ResponseContextManager, statuses: tuple[int, ...]) -> None:
    if answer.status_code in statuses:
        answer.success()
    else:
        answer.failure(f"unexpected {answer.status_code}")
