"""The service's closed sets, each defined once: languages, badge sizes, formats and
scales, the shop-id alphabet, shop states, and categories with their colours.

The registry, the renderer, the hot path, the pages, the APIs, the OpenAPI description and
the CLI's choices all read them from here, so adding a language or a scale is one edit
(plus its name in the `Literal` type, which tests/test_vocabulary.py keeps in step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

Lang = Literal["nl", "fr", "de", "en"]


@dataclass(frozen=True, slots=True)
class Language:
    # How the language switcher names it: in itself, never translated.
    endonym: str
    # Babel's locale for dates: Belgian variants, so months and day order read as at home.
    locale: str


LANGUAGES: Final[dict[Lang, Language]] = {
    "nl": Language("Nederlands", "nl_BE"),
    "fr": Language("Français", "fr_BE"),
    "de": Language("Deutsch", "de_BE"),
    "en": Language("English", "en_BE"),
}
LANGS: Final[tuple[Lang, ...]] = tuple(LANGUAGES)
DEFAULT_LANG: Final[Lang] = "nl"

Size = Literal["s", "m", "l"]
# Fixed width and height in CSS pixels, so a page that embeds a badge never shifts.
SIZES: Final[dict[Size, tuple[int, int]]] = {"s": (160, 40), "m": (210, 60), "l": (280, 80)}
DEFAULT_SIZE: Final[Size] = "m"

Format = Literal["svg", "png"]
FORMATS: Final[tuple[Format, ...]] = get_args(Format)
# PNG only: 2 and 3 for retina screens.
SCALES: Final[tuple[int, ...]] = (1, 2, 3)

# Shop ids: opaque and never sequential; no l, o, 0 or 1, which read alike.
SHOP_ID_ALPHABET: Final = "abcdefghijkmnpqrstuvwxyz23456789"
SHOP_ID_LENGTH: Final = 16


def character_class(alphabet: str) -> str:
    """A regex class body for `alphabet`, runs written as ranges: "a-kmnp-z2-9"."""
    parts: list[str] = []
    chars = sorted(set(alphabet), key=lambda ch: (ch.isdigit(), ch))
    start = 0
    for end in range(1, len(chars) + 1):
        if end == len(chars) or ord(chars[end]) != ord(chars[end - 1]) + 1:
            run = chars[start:end]
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 2 else "".join(run))
            start = end
    return "".join(parts)


SHOP_ID_CLASS: Final = character_class(SHOP_ID_ALPHABET)

# What the registry stores; `expired` is derived at read time and `unknown` means no such shop.
State = Literal["certified", "suspended", "revoked"]
PublicState = Literal["certified", "suspended", "revoked", "expired", "unknown"]
STATES: Final[tuple[State, ...]] = get_args(State)
PUBLIC_STATES: Final[tuple[PublicState, ...]] = get_args(PublicState)

Category = Literal["b2c_member", "b2b_member", "webshop_partner", "business_partner", "sponsor"]
CATEGORIES: Final[tuple[Category, ...]] = get_args(Category)
# The stakeholder colours from BeCommerce's seed, used for the badge's accents and the pages.
CATEGORY_COLOURS: Final[dict[Category, str]] = {
    "b2c_member": "#2b9348",
    "b2b_member": "#1c7ed6",
    "webshop_partner": "#7048e8",
    "business_partner": "#d9342b",
    "sponsor": "#ee8a00",
}
