"""Request bodies for the admin API: JSON only, bounded, decoded into the models of
badge/web/api_models.py, which check fields, types and formats in one pass.

Every problem is a 4xx that says what to fix: the CRM's developers read these messages,
so msgspec's wording is turned into ours here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Final, TypeVar

import msgspec
from starlette.requests import Request

from badge.errors import UnsupportedMediaType, ValidationError
from badge.platform.http import read_body
from badge.registry import rules
from badge.vocabulary import CATEGORIES, STATES

MAX_BODY_BYTES: Final = 64 * 1024
JSON_TYPES: Final = frozenset({"application/json", "application/merge-patch+json"})

M = TypeVar("M", bound=msgspec.Struct)

# A lone UTF-16 surrogate escape ("\ud800"): JSON allows it, no text store can keep it.
_LONE_SURROGATE: Final = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])"
    rb"|(?<![0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
_MESSAGE: Final = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$")
_CHOICES: Final[Mapping[str, tuple[str, ...]]] = {"state": STATES, "categories": CATEGORIES}
_SINGULAR: Final = {"categories": "category", "domains": "domain"}
_EXPIRED: Final = "expired is derived from valid_until and cannot be set; change valid_until"
_DAYS: Final = ("certified_since", "valid_until", "last_audit")
_FORMATS: Final = {
    "enterprise_number": "must have ten digits, like 0123.456.749",
    "domains": "must be host names such as shop.be",
    **dict.fromkeys(_DAYS, "must be a date like 2027-12-31, from 1990 to 2100"),
}
_TEXT: Final = "must be one line of text, not empty, without control, bidi or invisible characters"
_JSON_TYPES: Final = {
    "str": "a string",
    "int": "a number",
    "float": "a number",
    "bool": "a boolean",
    "null": "null",
    "array": "a list",
    "object": "an object",
}


async def read_model(
    request: Request, model: type[M], *, hints: Mapping[str, str] | None = None
) -> M:
    """The body as `model`; `hints` word the refusal of a missing or unknown field."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type not in JSON_TYPES:
        raise UnsupportedMediaType("send the body as JSON, with Content-Type: application/json")
    raw = await read_body(
        request, MAX_BODY_BYTES, too_large=f"the body is limited to {MAX_BODY_BYTES // 1024} KB"
    )
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError("the body is not UTF-8") from None
    try:
        return msgspec.json.decode(raw, type=model)
    except msgspec.ValidationError as exc:
        message = str(exc)
        if "matching regex" in message:
            # The registry's rule names what is wrong (the character, the check digit).
            _apply_rule(raw, message)
        raise ValidationError(explain(message, model, hints or {})) from None
    except msgspec.DecodeError as exc:
        if _LONE_SURROGATE.search(raw):
            raise ValidationError(
                "the body has an unpaired surrogate escape such as \\ud800"
            ) from None
        raise ValidationError(f"the body is not valid JSON: {exc}") from None


def _apply_rule(raw: bytes, message: str) -> None:
    """Raise the rule's own refusal of the value msgspec's pattern refused, if it has one."""
    found = _MESSAGE.match(message)
    path = "" if found is None else found["path"] or ""
    value: object = msgspec.json.decode(raw)
    for step in re.findall(r"\.(\w+)|\[(\d+)\]", path):
        key, index = step
        if isinstance(value, dict) and key:
            value = value.get(key)
        elif isinstance(value, list) and index:
            value = value[int(index)]
    field = re.split(r"[.\[]", path.lstrip("."), maxsplit=1)[0]
    if isinstance(value, str):
        rule = _RULES.get(field)
        if rule is None:
            rules.clean_text(value, field)
        else:
            rule(value)


_RULES: Final[Mapping[str, Callable[[str], object]]] = {
    "domains": rules.normalise_domain,
    "enterprise_number": rules.normalise_enterprise_number,
    **{day: functools.partial(rules.parse_date, what=day) for day in _DAYS},
}


def explain(message: str, model: type[msgspec.Struct], hints: Mapping[str, str]) -> str:
    """msgspec's refusal (`Expected `str`, got `int` - at `$.name``) in our words."""
    found = _MESSAGE.match(message)
    assert found is not None  # the pattern matches any text
    what, path = found["what"], found["path"]
    if path is None:
        return _whole_body(what, model, hints)
    field = re.split(r"[.\[]", path.lstrip("."), maxsplit=1)[0]
    if what.startswith("Invalid enum value"):
        value = what.removeprefix("Invalid enum value ")
        choices = ", ".join(_CHOICES.get(field, ()))
        extra = f" ({_EXPIRED})" if field == "state" else ""
        return f"unknown {_SINGULAR.get(field, field)} {value}; choose from {choices}{extra}"
    if what.startswith("Expected `str` matching regex"):
        return f"{field} {_FORMATS.get(field, _TEXT)}"
    if length := re.match(r"Expected `(\w+)` of length ([<>]=) (\d+)", what):
        return _length(field, *length.groups())
    if types := re.match(r"Expected `([^`]+)`, got `(\w+)`", what):
        return _type(field, path, *types.groups())
    return f"{field}: {what}"


def _whole_body(what: str, model: type[msgspec.Struct], hints: Mapping[str, str]) -> str:
    if name := re.match(r"Object contains unknown field `(.*)`", what):
        field = name[1]
        allowed = ", ".join(model.__struct_encode_fields__)
        return hints.get(field) or f"unknown field {field!r}; allowed: {allowed}"
    if name := re.match(r"Object missing required field `(.*)`", what):
        return hints.get(name[1]) or f"missing required field: {name[1]}"
    if what.startswith("Expected `object`"):
        return "the body must be a JSON object"
    return what


def _length(field: str, kind: str, bound: str, limit: str) -> str:
    if kind == "array":
        if bound == ">=":
            return f"{field} needs at least {'one' if limit == '1' else limit} item(s)"
        return f"{field} has more than {limit} items"
    if bound == ">=":
        return (
            f"{field} is empty" if limit == "1" else f"{field} is shorter than {limit} characters"
        )
    return f"{field} is longer than {limit} characters"


def _type(field: str, path: str, expected: str, got: str) -> str:
    if got == "null":
        return f"{field} cannot be null; leave a field out to keep it"
    if "[" in path:
        items = "strings" if expected == "str" else f"{_JSON_TYPES.get(expected, expected)} items"
        return f"{field} must be a list of {items}; found {_JSON_TYPES.get(got, got)}"
    wanted = _JSON_TYPES.get(expected, expected)
    if expected == "array":
        wanted = "a list of strings"
    return f"{field} must be {wanted}, got {_JSON_TYPES.get(got, got)}"
