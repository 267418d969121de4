"""Request bodies for the admin API: JSON only, bounded, with exact fields and types.

Every problem is a 4xx that says what to fix: the CRM's developers read these messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final

from starlette.requests import Request

from badge.errors import UnsupportedMediaType, ValidationError
from badge.http import read_body

MAX_BODY_BYTES: Final = 64 * 1024
JSON_TYPES: Final = frozenset({"application/json", "application/merge-patch+json"})

JsonObject = dict[str, object]


async def read_json(request: Request) -> JsonObject:
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in JSON_TYPES:
        raise UnsupportedMediaType("send the body as JSON, with Content-Type: application/json")
    raw = await read_body(
        request, MAX_BODY_BYTES, too_large=f"the body is limited to {MAX_BODY_BYTES // 1024} KB"
    )
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ValidationError("the body is not UTF-8") from None
    except RecursionError:
        raise ValidationError("the body nests too deeply") from None
    except ValueError as exc:
        raise ValidationError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object")
    # JSON lets "\ud800" escape a lone UTF-16 surrogate; Python keeps it in the str, and the
    # database driver then fails to encode it (a 500 from PATCH, create or set-state).
    # Such text can never be stored or shown, so refuse the whole body here, once.
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError("the body has an unpaired surrogate escape such as \\ud800") from None
    return data


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not allowed")


def check_fields(
    data: Mapping[str, object], *, allowed: frozenset[str], required: frozenset[str] = frozenset()
) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(
            f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    missing = sorted(name for name in required if data.get(name) is None)
    if missing:
        raise ValidationError(f"missing required field(s): {', '.join(missing)}")


def string(data: Mapping[str, object], name: str) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be a string, got {_json_type(value)}")
    return value


def required_string(data: Mapping[str, object], name: str) -> str:
    value = string(data, name)
    if value is None:
        raise ValidationError(f"missing required field: {name}")
    return value


def string_list(data: Mapping[str, object], name: str, *, limit: int = 100) -> list[str] | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValidationError(f"{name} must be a list of strings, got {_json_type(value)}")
    if len(value) > limit:
        raise ValidationError(f"{name} has more than {limit} items")
    for item in value:
        if not isinstance(item, str):
            raise ValidationError(f"{name} must be a list of strings; found {_json_type(item)}")
    return [str(item) for item in value]


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"
