"""Consumers' reports of sites that show a shop's badge wrongly: list, show and close them.

The reports themselves come from the form on /v/{id} (verify/report.py).
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from badge.admin.body import read_model
from badge.admin.shops import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    _actor,
    _found,
    _int_param,
    _path_id,
    _query_param,
    _registry,
    _run,
)
from badge.errors import ValidationError
from badge.registry import rules
from badge.registry.model import REPORT_STATUSES, ReportStatus
from badge.web import api_models

STATUS_CHOICES: Final = frozenset(REPORT_STATUSES)
_HINTS: Final = {"resolution": "a resolution is required: say what was done"}


def _report_id(request: Request) -> str:
    return _path_id(request, "report_id", rules.is_report_id, "report")


async def list_reports(request: Request) -> Response:
    """Newest first; `?status=open|closed`, `?shop_id=`, `?limit=`."""
    raw = _query_param(request, "status") or None
    if raw is not None and raw not in STATUS_CHOICES:
        raise ValidationError("status must be open or closed")
    status: ReportStatus | None = "open" if raw == "open" else "closed" if raw else None
    shop_id = _query_param(request, "shop_id") or None
    if shop_id is not None and not rules.is_shop_id(shop_id):
        raise ValidationError("shop_id is not a shop id")
    limit = _int_param(request, "limit", DEFAULT_LIMIT, high=MAX_LIMIT)
    registry = _registry(request)

    def work() -> list[dict[str, object]]:
        found = registry.reports(status=status, shop_id=shop_id, limit=limit)
        return [report.to_json() for report in found]

    return JSONResponse({"reports": await _run(work)})


async def show_report(request: Request) -> Response:
    report_id = _report_id(request)
    registry = _registry(request)
    report = _found(await _run(lambda: registry.get_report(report_id)), "report", report_id)
    return JSONResponse(report.to_json())


async def close_report(request: Request) -> Response:
    report_id = _report_id(request)
    body = await read_model(request, api_models.ReportClose, hints=_HINTS)
    resolution = body.resolution
    registry = _registry(request)
    actor = _actor(request)
    report = await _run(
        lambda: registry.close_report(report_id, actor=actor, resolution=resolution)
    )
    return JSONResponse(report.to_json())
