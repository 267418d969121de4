"""Values that must never be printed: secrets, and URLs with their passwords masked."""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit


class Secret:
    """Holds a value that must never be printed or logged."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


# Query parameters that carry a credential (libpq and redis-py both take `password=`).
_SECRET_PARAMS: Final = ("pass", "secret", "token", "key")


def redact_url(url: str) -> str:
    """A URL safe to print: the password, in the user part or the query, replaced."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@")
    params = parts.query.split("&") if parts.query else []
    query = "&".join(
        f"{param.partition('=')[0]}=***"
        if any(word in param.partition("=")[0].lower() for word in _SECRET_PARAMS)
        else param
        for param in params
    )
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return parts._replace(netloc=netloc, query=query).geturl()
