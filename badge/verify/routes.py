"""The consumer side's routes: verification pages and the public JSON API."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from badge.routing import by_method
from badge.verify.api import BadgeChecker, VerifyApi
from badge.verify.lookup import HistoryCache
from badge.verify.pages import Pages


def verify_routes() -> list[BaseRoute]:
    # Built per app, so each app (and each test) has its own caches and upload limiter.
    checker = BadgeChecker()
    pages = Pages(checker, HistoryCache())
    api = VerifyApi(checker)
    return [
        Route("/v/{shop_id}", pages.shop, methods=["GET"]),
        by_method("/verify", {"GET": pages.lookup, "POST": pages.check}),
        Route("/api/v1/shops/{shop_id}", api.shop, methods=["GET"]),
        Route("/api/v1/lookup", api.lookup, methods=["GET"]),
        Route("/api/v1/verify", api.verify, methods=["POST", "OPTIONS"]),
    ]
