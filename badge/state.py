"""The typed state the lifespan yields; handlers read their resources from here."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict, cast

from starlette.requests import Request

if TYPE_CHECKING:
    from badge.platform.http import Codings
    from badge.platform.metrics import Metrics
    from badge.platform.ratelimit import RateLimiter
    from badge.proofs.check import Checker
    from badge.registry.base import Registry
    from badge.serving.service import BadgeService
    from badge.settings import Settings
    from badge.signing import KeyStore


class AppServices(TypedDict):
    """What the lifespan yields into each request's scope (named apart from Starlette's State
    and the registry's shop State)."""

    settings: Settings
    registry: Registry
    keys: KeyStore
    badges: BadgeService
    # The Accept-Encoding parser the hot path and the compression middleware share.
    codings: Codings
    metrics: Metrics
    ratelimit: RateLimiter
    checker: Checker


def app_state(request: Request) -> AppServices:
    return cast(AppServices, request.scope["state"])
