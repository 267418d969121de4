"""The service's closed sets, each defined once: languages, badge sizes and formats,
shop states, and categories with their colours.

The registry, the renderer, the pages, the APIs, the OpenAPI description and the CLI's
choices all import them from here, so adding a language or a size is one edit.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Lang = Literal["nl", "fr", "de", "en"]
LANGS: Final[tuple[Lang, ...]] = get_args(Lang)
DEFAULT_LANG: Final[Lang] = "nl"

Size = Literal["s", "m", "l"]
# Fixed width and height in CSS pixels, so a page that embeds a badge never shifts.
SIZES: Final[dict[Size, tuple[int, int]]] = {"s": (160, 40), "m": (210, 60), "l": (280, 80)}
DEFAULT_SIZE: Final[Size] = "m"

Format = Literal["svg", "png"]
FORMATS: Final[tuple[Format, ...]] = get_args(Format)
# PNG only: 2 and 3 for retina screens.
SCALES: Final[tuple[int, ...]] = (1, 2, 3)

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
