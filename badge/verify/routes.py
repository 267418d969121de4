"""The consumer side's routes: verification pages, the public JSON API and static files."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from badge.routing import by_method
from badge.verify.api import BadgeChecker, VerifyApi
from badge.verify.lookup import HistoryCache
from badge.verify.pages import Pages
from badge.verify.report import Reports

# badge/static/: CSS and images served as they are. It ships inside the package, so an
# installed wheel serves it too.
STATIC_DIR: Final = Path(__file__).resolve().parents[1] / "static"


def verify_routes() -> list[BaseRoute]:
    # Built per app, so each app (and each test) has its own caches and upload limiter.
    checker = BadgeChecker()
    pages = Pages(checker, HistoryCache())
    api = VerifyApi(checker)
    reports = Reports(pages)
    return [
        Route("/v/{shop_id}", pages.shop, methods=["GET"]),
        Route("/v/{shop_id}/report", reports.submit, methods=["POST"]),
        by_method("/verify", {"GET": pages.lookup, "POST": pages.check}),
        Route("/api/v1/shops/{shop_id}", api.shop, methods=["GET"]),
        Route("/api/v1/lookup", api.lookup, methods=["GET"]),
        Route("/api/v1/verify", api.verify, methods=["POST", "OPTIONS"]),
        # A missing folder fails at start, never as a 500 on the first stylesheet.
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
