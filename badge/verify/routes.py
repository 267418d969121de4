"""The consumer side's routes: verification pages and the public JSON API."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from badge.routing import by_method
from badge.verify.api import BadgeChecker, VerifyApi
from badge.verify.lookup import HistoryCache
from badge.verify.pages import Pages
from badge.verify.report import Reports


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
    ]
