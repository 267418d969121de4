"""The operators' admin API, mounted at /admin/api/v1 behind bearer-token authentication."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount

from badge.admin.auth import AdminGuard, TokenCache
from badge.admin.reports import report_routes
from badge.admin.shops import PREFIX, shop_routes

__all__ = ["admin_routes"]


def admin_routes() -> list[BaseRoute]:
    # One token cache per app, made here rather than at import time.
    return [
        Mount(
            PREFIX,
            routes=[*shop_routes(), *report_routes()],
            middleware=[Middleware(AdminGuard, tokens=TokenCache())],
        )
    ]
