"""Errors that carry their HTTP status; one handler in app.py turns them into responses."""

from __future__ import annotations


class BadgeError(Exception):
    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(BadgeError):
    status = 400
    code = "bad_request"


class ValidationError(BadRequest):
    code = "invalid"


class Unauthorized(BadgeError):
    status = 401
    code = "unauthorized"


class Forbidden(BadgeError):
    status = 403
    code = "forbidden"


class NotFound(BadgeError):
    status = 404
    code = "not_found"


class Conflict(BadgeError):
    status = 409
    code = "conflict"


class PayloadTooLarge(BadgeError):
    status = 413
    code = "too_large"


class UnsupportedMediaType(BadgeError):
    status = 415
    code = "unsupported_media_type"


class Unprocessable(BadgeError):
    """A file we could read but that is not a badge we can check (hostile or malformed)."""

    status = 422
    code = "unprocessable"


class Unavailable(BadgeError):
    status = 503
    code = "unavailable"
