"""Languages and translations: gettext catalogs (.po, managed with Babel) for NL, FR, DE, EN."""

from __future__ import annotations

import functools
import gettext
import io
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any, Final, cast

import jinja2
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from markupsafe import Markup

from badge.platform.timeutil import BRUSSELS
from badge.vocabulary import DEFAULT_LANG, LANGS, LANGUAGES, Lang
from badge.web.assets import static_url

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
    path = resources.files("badge").joinpath("locales", lang, "LC_MESSAGES", f"{DOMAIN}.po")
    if not path.is_file():
        # English is the msgid language: without a catalog every message stands as written.
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def gettext_for(lang: Lang, message: str) -> str:
    return translations(lang).gettext(message)


# Babel locales for dates, and the endonyms a language switcher shows.
BABEL_LOCALES: Final[dict[Lang, str]] = {code: lang.locale for code, lang in LANGUAGES.items()}
LANG_NAMES: Final[dict[Lang, str]] = {code: lang.endonym for code, lang in LANGUAGES.items()}


def format_day(lang: Lang, value: date | datetime | None) -> str:
    """A calendar day in words ("3 mei 2026"); datetimes are read in Brussels time."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(BRUSSELS).date() if value.tzinfo else value.date()
    return format_date(value, format="long", locale=BABEL_LOCALES[lang])


def format_moment(lang: Lang, value: datetime | None) -> str:
    """A date and time to the minute, in Brussels time."""
    if value is None:
        return ""
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    day = format_day(lang, moment)
    clock = format_time(moment, format="HH:mm", tzinfo=BRUSSELS, locale=BABEL_LOCALES[lang])
    return f"{day}, {clock}"


@functools.cache
def jinja_environment(lang: Lang) -> jinja2.Environment:
    """One template environment per language, with that language's catalog installed.

    Autoescape is always on: shop names and referrers are attacker-controlled text.
    Newstyle gettext escapes the values put into a translated string as well.
    """
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("badge", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Same setting as babel.cfg, so extracted msgids match what templates look up.
    env.policies["ext.i18n.trimmed"] = True
    cast(Any, env).install_gettext_translations(translations(lang), newstyle=True)
    env.globals["lang"] = lang
    env.filters["day"] = functools.partial(format_day, lang)
    env.filters["moment"] = functools.partial(format_moment, lang)
    env.filters["bdi"] = bdi
    env.globals["static"] = static_url
    return env


def bdi(value: object) -> Markup:
    """User-supplied text isolated from its surroundings, so a right-to-left shop name
    cannot reorder the sentence it is put in (names with bidi controls are refused)."""
    return Markup("<bdi>%s</bdi>") % str(value)
