"""Errors that carry their HTTP status; badge/web/error_responses.py turns them into responses.

Handlers raise these and do not catch them: one handler answers by route (an HTML page,
JSON for the APIs, or an error badge).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class BadgeError(Exception):
    """A status and a stable code per kind; the code is the `error` field of JSON answers."""

    status: int = 500
    code: str = "internal_error"

    def __init_subclass__(cls, status: int = 0, code: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.status = status or cls.status
        cls.code = code or cls.code

    def __init__(self, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Headers the answer carries whatever its form (WWW-Authenticate on a 401).
        self.headers: dict[str, str] = dict(headers or {})


class BadRequest(BadgeError, status=400, code="bad_request"): ...


class ValidationError(BadRequest, code="invalid"): ...


class Unauthorized(BadgeError, status=401, code="unauthorized"): ...


class Forbidden(BadgeError, status=403, code="forbidden"): ...


class NotFound(BadgeError, status=404, code="not_found"): ...


class Conflict(BadgeError, status=409, code="conflict"): ...


class PayloadTooLarge(BadgeError, status=413, code="too_large"): ...


class UnsupportedMediaType(BadgeError, status=415, code="unsupported_media_type"): ...


class Unprocessable(BadgeError, status=422, code="unprocessable"):
    """A file we could read but that is not a badge we can check (hostile or malformed)."""


class Unavailable(BadgeError, status=503, code="unavailable"): ...
