"""The operators' API handlers: shops, state changes, history, sightings and reports.

Registry calls are synchronous and run in a worker thread. After every change the badge
cache is told at once, so this instance serves the new state on its next request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Final, TypeVar

import anyio
from msgspec import UNSET
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from badge.admin.body import read_model
from badge.errors import NotFound, ValidationError
from badge.platform.http import digits
from badge.platform.timeutil import today
from badge.registry import rules
from badge.registry.base import Registry
from badge.registry.model import Shop
from badge.state import app_state
from badge.vocabulary import PUBLIC_STATES
from badge.web import api_models, patterns
from badge.web.routes import ADMIN_PREFIX as PREFIX

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000
EXPIRY_WINDOW: Final = timedelta(days=30)

_EDITABLE: Final = frozenset(
    {
        "name",
        "display_name",
        "legal_name",
        "enterprise_number",
        "domains",
        "categories",
        *rules.DATE_FIELDS,
    }
)
_REASON: Final = "a reason is required; it is kept in the shop's history"
_CREATE_HINTS: Final = {
    "legal_name": "missing required field: legal_name",
    "domains": "missing required field: domains (a list of domain names)",
}
_UPDATE_HINTS: Final = {
    "state": f"change the state with POST {PREFIX}/shops/{{id}}/state, which records a reason",
    # Every edit carries a reason, kept in the history with what changed.
    "reason": _REASON,
}
_STATE_HINTS: Final = {"reason": _REASON}

T = TypeVar("T")


async def _run(func: Callable[[], T]) -> T:
    return await anyio.to_thread.run_sync(func)


def _registry(request: Request) -> Registry:
    return app_state(request)["registry"]


def _actor(request: Request) -> str:
    actor = request.scope.get("admin_actor")
    # AdminGuard sets it for every request it lets through; no actor means no route here.
    assert isinstance(actor, str)
    return actor


def _path_id(request: Request, name: str, valid: Callable[[str], bool], what: str) -> str:
    """An id from the path; one that cannot exist is a 404 before any registry call."""
    value = str(request.path_params[name])
    if not valid(value):
        raise NotFound(f"no {what} with id {value[:40]!r}")
    return value


def _found(value: T | None, what: str, ident: str) -> T:
    if value is None:
        raise NotFound(f"no {what} with id {ident}")
    return value


def _shop_id(request: Request) -> str:
    return _path_id(request, "shop_id", rules.is_shop_id, "shop")


def _require(shop: Shop | None, shop_id: str) -> Shop:
    return _found(shop, "shop", shop_id)


def _query_param(request: Request, name: str) -> str | None:
    """One query parameter's value; given twice, it is refused, not silently the last one."""
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise ValidationError(f"{name} is given {len(values)} times; give it once")
    return values[0] if values else None


def _int_param(request: Request, name: str, default: int, *, high: int) -> int:
    raw = _query_param(request, name)
    if raw is None:
        return default
    # Length first, so no huge string is converted; the bound is the one in the message.
    if not digits(raw) or len(raw) > len(str(high)) or int(raw) > high:
        raise ValidationError(f"{name} must be a whole number from 0 to {high}")
    return int(raw)


def _bool_param(request: Request, name: str) -> bool:
    flag = patterns.FLAGS.get(_query_param(request, name) or "")
    if flag is None:
        raise ValidationError(f"{name} must be 1 or 0 (or true, false, yes, no)")
    return flag


def _display_name(name: object, display_name: object) -> str | None:
    """`name` and `display_name` are one field under two names; send one."""
    if (
        name is not None
        and name is not UNSET
        and display_name is not None
        and display_name is not UNSET
    ):
        raise ValidationError("send name or display_name, not both")
    chosen = name if name is not None and name is not UNSET else display_name
    return chosen if isinstance(chosen, str) else None


async def list_shops(request: Request) -> Response:
    limit = _int_param(request, "limit", DEFAULT_LIMIT, high=MAX_LIMIT)
    offset = _int_param(request, "offset", 0, high=10**9)
    registry = _registry(request)

    def work() -> tuple[int, list[Shop]]:
        return registry.count_shops(), registry.list_shops(limit=limit, offset=offset)

    total, shops = await _run(work)
    day = today()
    return JSONResponse(
        {
            "shops": [shop.to_json(day) for shop in shops],
            "total": total,
            "limit": limit,
            "offset": offset,
        }
    )


async def create_shop(request: Request) -> Response:
    body = await read_model(request, api_models.NewShop, hints=_CREATE_HINTS)
    name = _display_name(body.name, body.display_name)
    if name is None:
        raise ValidationError("missing required field: name")
    new = rules.validate_new_shop(
        display_name=name,
        legal_name=body.legal_name,
        enterprise_number=body.enterprise_number,
        domains=body.domains,
        categories=body.categories or (),
        state=body.state or "certified",
        certified_since=body.certified_since,
        valid_until=body.valid_until,
        last_audit=body.last_audit,
        today=today(),
    )
    registry = _registry(request)
    shop = await _run(functools.partial(registry.create_shop, new, actor=_actor(request)))
    await app_state(request)["badges"].changed(shop.id)
    return JSONResponse(
        shop.to_json(today()),
        status_code=201,
        headers={"location": f"{PREFIX}/shops/{shop.id}"},
    )


async def get_shop(request: Request) -> Response:
    shop_id = _shop_id(request)
    registry = _registry(request)
    shop = _require(await _run(functools.partial(registry.get_shop, shop_id)), shop_id)
    return JSONResponse(shop.to_json(today()))


async def update_shop(request: Request) -> Response:
    shop_id = _shop_id(request)
    registry = _registry(request)
    # An unknown shop is a 404 whatever the body says (the reason is checked after it).
    _require(await _run(functools.partial(registry.get_shop, shop_id)), shop_id)
    body = await read_model(request, api_models.ShopUpdate, hints=_UPDATE_HINTS)
    sent = {name: value for name in _EDITABLE if (value := getattr(body, name)) is not UNSET}
    if not sent:
        editable = ", ".join(sorted(_EDITABLE))
        raise ValidationError(f"nothing to update; send any of {editable}, and a reason")
    name = _display_name(sent.get("name"), sent.get("display_name"))
    legal_name = sent.get("legal_name")
    enterprise_number = sent.get("enterprise_number")
    domains = sent.get("domains")
    categories = sent.get("categories")
    dates = rules.parse_dates(sent)
    reason = body.reason
    registry = _registry(request)
    actor = _actor(request)

    def work() -> Shop:
        _require(registry.get_shop(shop_id), shop_id)
        # The registry checks the reason and the dates against the stored shop, in its
        # write transaction.
        return registry.update_shop(
            shop_id,
            actor=actor,
            reason=reason,
            display_name=name,
            legal_name=legal_name,
            enterprise_number=enterprise_number,
            domains=None if domains is None else tuple(domains),
            categories=None if categories is None else tuple(categories),
            certified_since=dates["certified_since"],
            valid_until=dates["valid_until"],
            last_audit=dates["last_audit"],
        )

    shop = await _run(work)
    await app_state(request)["badges"].changed(shop_id)
    return JSONResponse(shop.to_json(today()))


async def set_state(request: Request) -> Response:
    shop_id = _shop_id(request)
    body = await read_model(request, api_models.StateChange, hints=_STATE_HINTS)
    target = rules.parse_state(body.state)
    reason = body.reason
    registry = _registry(request)
    actor = _actor(request)

    def work() -> tuple[dict[str, object], Shop]:
        event = registry.set_state(shop_id, target, reason=reason, actor=actor)
        return event.to_json(), _require(registry.get_shop(shop_id), shop_id)

    event, shop = await _run(work)
    await app_state(request)["badges"].changed(shop_id)
    return JSONResponse({"event": event, "shop": shop.to_json(today())})


async def history(request: Request) -> Response:
    shop_id = _shop_id(request)
    registry = _registry(request)

    def work() -> list[dict[str, object]]:
        _require(registry.get_shop(shop_id), shop_id)
        return [event.to_json() for event in registry.history(shop_id)]

    return JSONResponse({"shop_id": shop_id, "events": await _run(work)})


async def shop_sightings(request: Request) -> Response:
    shop_id = _shop_id(request)
    registry = _registry(request)

    def work() -> list[dict[str, object]]:
        _require(registry.get_shop(shop_id), shop_id)
        return [sighting.to_json() for sighting in registry.sightings(shop_id=shop_id)]

    return JSONResponse({"shop_id": shop_id, "sightings": await _run(work)})


async def sightings(request: Request) -> Response:
    """All sightings; `?unregistered=1` is the misuse report: badges on unregistered hosts."""
    unregistered = _bool_param(request, "unregistered")
    registry = _registry(request)

    def work() -> list[dict[str, object]]:
        names: dict[str, str | None] = {}
        rows = []
        for sighting in registry.sightings(unregistered_only=unregistered):
            if sighting.shop_id not in names:
                shop = registry.get_shop(sighting.shop_id)
                names[sighting.shop_id] = None if shop is None else shop.display_name
            rows.append({**sighting.to_json(), "shop_name": names[sighting.shop_id]})
        return rows

    return JSONResponse({"unregistered_only": unregistered, "sightings": await _run(work)})


async def summary(request: Request) -> Response:
    registry = _registry(request)

    def work() -> tuple[list[Shop], int]:
        shops: list[Shop] = []
        while batch := registry.list_shops(limit=MAX_LIMIT, offset=len(shops)):
            shops.extend(batch)
            if len(batch) < MAX_LIMIT:
                break
        hosts = {s.host for s in registry.sightings(unregistered_only=True)}
        return shops, len(hosts)

    shops, unregistered_hosts = await _run(work)
    day = today()
    horizon = day + EXPIRY_WINDOW
    by_state = dict.fromkeys(PUBLIC_STATES[:-1], 0)  # every state but `unknown`
    expiring: list[Shop] = []
    for shop in shops:
        state = shop.public_state(day)
        by_state[state] += 1
        if state == "certified" and shop.valid_until is not None and shop.valid_until <= horizon:
            expiring.append(shop)
    expiring.sort(key=lambda shop: (shop.valid_until or day, shop.display_name))
    return JSONResponse(
        {
            "as_of": day.isoformat(),
            "total": len(shops),
            "by_state": by_state,
            "expiring_within_30_days": {
                "count": len(expiring),
                "shops": [
                    {
                        "id": shop.id,
                        "display_name": shop.display_name,
                        "valid_until": shop.valid_until.isoformat() if shop.valid_until else None,
                    }
                    for shop in expiring
                ],
            },
            "unregistered_sighting_hosts": unregistered_hosts,
        }
    )
