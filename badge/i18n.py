"""Languages and translations: gettext catalogs (.po, managed with Babel) for NL, FR, DE, EN."""

from __future__ import annotations

import functools
import gettext
import io
from importlib import resources
from typing import Final, Literal, get_args

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

Lang = Literal["nl", "fr", "de", "en"]
LANGS: Final[tuple[Lang, ...]] = get_args(Lang)
DEFAULT_LANG: Final[Lang] = "nl"
DOMAIN: Final = "messages"


def parse_lang(value: str | None) -> Lang | None:
    if value is None:
        return None
    value = value.strip().lower()[:2]
    return value if value in LANGS else None


def negotiate(query_lang: str | None, accept_language: str | None) -> Lang:
    """`?lang=` first, then the best Accept-Language match, then Dutch."""
    chosen = parse_lang(query_lang)
    if chosen is not None:
        return chosen
    if accept_language:
        weighted: list[tuple[float, int, Lang]] = []
        for index, part in enumerate(accept_language[:512].split(",")[:20]):
            tag, _, params = part.strip().partition(";")
            lang = parse_lang(tag.split("-")[0])
            if lang is None:
                continue
            quality = 1.0
            params = params.strip()
            if params.startswith("q="):
                try:
                    quality = float(params[2:])
                except ValueError:
                    quality = 0.0
            if quality > 0:
                weighted.append((-quality, index, lang))
        if weighted:
            return min(weighted)[2]
    return DEFAULT_LANG


@functools.cache
def translations(lang: Lang) -> gettext.NullTranslations:
    """Compile the .po catalog in memory, so the repository holds only the sources."""
    if lang == "en":
        base: gettext.NullTranslations = gettext.NullTranslations()
    else:
        base = gettext.NullTranslations()
    path = resources.files("badge").joinpath("locales", lang, "LC_MESSAGES", f"{DOMAIN}.po")
    if not path.is_file():
        return base
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def gettext_for(lang: Lang, message: str) -> str:
    return translations(lang).gettext(message)


def ngettext_for(lang: Lang, singular: str, plural: str, n: int) -> str:
    return translations(lang).ngettext(singular, plural, n)
