"""A badge request's query string: bounded, parsed, and refused with a clear reason.

Embeds send the same few query strings over and over; the hot path (hotpath.py) keeps what
this module made of each. `d` is normalised like registered domains, so its part of the
verdict (binding.py) is one set lookup.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final, cast
from urllib.parse import unquote_plus

from badge.registry import rules
from badge.serving import binding
from badge.serving.variants import ERROR_TEXTS, ErrorKind
from badge.vocabulary import DEFAULT_LANG, DEFAULT_SIZE, LANGS, SCALES, SIZES, Format, Lang, Size

_SIZES: Final = frozenset(SIZES)
_LANGS: Final = frozenset(LANGS)
_SCALES: Final = {str(scale).encode(): scale for scale in SCALES}
# Embeds send `lang`, `size` and a host name of at most 253 characters. Percent-encoded, 253
# characters of four UTF-8 bytes each take 3,036 bytes, so 4 KB takes every query the API
# document allows. Only queries of at most 1 KB are kept, which bounds the query cache at
# 4 MB whatever is sent; embed queries are a few dozen bytes.
MAX_QUERY_BYTES: Final = 4096
MAX_CACHED_QUERY_BYTES: Final = 1024
_monotonic = time.monotonic


class BadRequestParam(ValueError):
    """A bad badge parameter: `kind` picks one of the few prepared error badges, `detail`
    (the bad value, shortened) goes only into the X-Badge-Error header."""

    def __init__(self, kind: ErrorKind, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind: ErrorKind = kind
        self.detail = detail

    def header(self) -> bytes:
        text = f"{ERROR_TEXTS[self.kind]} (got {self.detail})"
        # Printable ASCII only: a header is no place for control bytes or raw Unicode.
        return "".join(ch if " " <= ch <= "~" else "?" for ch in text).encode("ascii")


@dataclass(frozen=True, slots=True)
class BadgeQuery:
    """A parsed badge query string; embeds send the same few strings over and over."""

    lang: Lang = DEFAULT_LANG
    size: Size = DEFAULT_SIZE
    scale: int = 1
    # `d` as sent (for sightings) and normalised like registered domains ("" when it is no
    # host name, which matches no shop), so its part of the verdict is one set lookup.
    host: str | None = None
    site: str | None = None
    # False when `d` needed IDNA and this second's budget for it was spent: `d` is then left
    # out of the verdict (it can only lower it), and the query is not cached, so a later
    # request checks it properly.
    final: bool = True

    def scale_for(self, fmt: Format) -> int:
        """The scale a variant in `fmt` is drawn at: an SVG is resolution independent."""
        return self.scale if fmt == "png" else 1


PLAIN: Final = BadgeQuery()


def lang_hint(query: bytes) -> Lang:
    for part in query.split(b"&"):
        if part.startswith(b"lang="):
            value = part[5:].decode("latin-1")
            if value in _LANGS:
                return value
    return DEFAULT_LANG


class Budget:
    """At most `per_second` uses in each second of the monotonic clock."""

    __slots__ = ("per_second", "second", "used")

    def __init__(self, per_second: int) -> None:
        self.per_second = per_second
        self.second = -1
        self.used = 0

    def take(self) -> bool:
        second = int(_monotonic())
        if second != self.second:
            self.second, self.used = second, 0
        if self.used >= self.per_second:
            return False
        self.used += 1
        return True


def _claim(host: str, idna: Budget) -> tuple[str | None, bool]:
    """`d` normalised like registered domains ("" for no host name), and whether that is
    final. Plain ASCII hosts (what embed.js sends) need no IDNA; others spend the budget."""
    quick = binding.quick_domain(host)
    if quick is not None:
        return quick, True
    if idna.take():
        return rules.try_normalise_domain(host) or "", True
    return None, False


def parse_query(query: bytes, idna: Budget) -> BadgeQuery:
    lang: str = DEFAULT_LANG
    size: str = DEFAULT_SIZE
    scale = 1
    host: str | None = None
    # The caller has already refused a query over MAX_QUERY_BYTES, before any cache.
    for part in query.split(b"&"):
        name, _, raw = part.partition(b"=")
        if name == b"lang":
            lang = raw.decode("latin-1")
            if lang not in _LANGS:
                raise BadRequestParam("lang", _short(lang))
        elif name == b"size":
            size = raw.decode("latin-1")
            if size not in _SIZES:
                raise BadRequestParam("size", _short(size))
        elif name == b"scale":
            found = _SCALES.get(raw)
            if found is None:
                raise BadRequestParam("scale", _short(raw.decode("latin-1")))
            scale = found
        elif name == b"d":
            text = unquote_plus(raw.decode("latin-1"))
            if not text or len(text) > 253:
                raise BadRequestParam("d", _short(text))
            host = text.lower()
    site, final = (None, True) if host is None else _claim(host, idna)
    return BadgeQuery(cast(Lang, lang), cast(Size, size), scale, host, site, final)


def _short(value: str) -> str:
    value = "".join(ch for ch in value if ch.isprintable())
    return value if len(value) <= 12 else value[:11] + "…"
