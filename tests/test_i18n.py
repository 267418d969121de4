"""badge.i18n and the catalogs: negotiation, completeness, and no untranslated page text."""

from __future__ import annotations

import gettext
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from badge.i18n import format_day, format_moment, jinja_environment, negotiate, translations
from badge.vocabulary import LANGS, Lang

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "badge" / "locales"
TEMPLATES = ROOT / "badge" / "templates"
TRANSLATED: tuple[Lang, ...] = ("nl", "fr", "de")

PERCENT_FIELD = re.compile(r"%\((\w+)\)s")
BRACE_FIELD = re.compile(r"\{(\w+)\}")


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def msgid(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def messages(catalog: Catalog) -> dict[str, Message]:
    return {msgid(m): m for m in catalog if m.id}


def fields(text: str) -> tuple[set[str], set[str]]:
    return set(PERCENT_FIELD.findall(text)), set(BRACE_FIELD.findall(text))


@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        pytest.param(None, None, "nl", id="default"),
        pytest.param("fr", "de", "fr", id="query-first"),
        pytest.param("FR", None, "fr", id="query-case"),
        pytest.param("fr-BE", None, "fr", id="query-region"),
        pytest.param("xx", "de-BE,de;q=0.9", "de", id="bad-query-then-header"),
        pytest.param(None, "en-GB;q=0.5, fr;q=0.8", "fr", id="quality"),
        pytest.param(None, "es, it", "nl", id="nothing-we-speak"),
        pytest.param(None, "fr;q=0, en", "en", id="refused-language"),
        pytest.param(None, "de;q=abc, en;q=0.1", "en", id="garbled-quality"),
        pytest.param(None, "," * 10_000, "nl", id="huge-header"),
    ],
)
def test_negotiate(query: str | None, accept: str | None, expected: str) -> None:
    assert negotiate(query, accept) == expected


def test_template_is_up_to_date_with_the_sources() -> None:
    """`pybabel extract` with babel.cfg gives exactly the msgids in messages.pot."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle, str(ROOT / "babel.cfg"))
    extracted = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options_map):
        extracted.add(message if isinstance(message, str) else message[0])
    pot = set(messages(read_catalog(LOCALES / "messages.pot")))
    assert extracted - pot == set(), "run pybabel extract (see babel.cfg)"
    assert pot - extracted == set(), "messages.pot holds msgids no source uses"


@pytest.mark.parametrize("lang", [pytest.param(lang, id=lang) for lang in TRANSLATED])
def test_catalog_is_complete(lang: Lang) -> None:
    template = messages(read_catalog(LOCALES / "messages.pot"))
    catalog = read_catalog(LOCALES / lang / "LC_MESSAGES" / "messages.po")
    assert str(catalog.locale) == lang
    translated = messages(catalog)
    assert set(template) - set(translated) == set(), f"{lang}: missing messages"
    assert set(translated) - set(template) == set(), f"{lang}: stale messages"
    for key, message in translated.items():
        assert not message.fuzzy, f"{lang}: fuzzy {key!r}"
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"{lang}: empty translation of {key!r}"
        expected = fields(" ".join(message.id if isinstance(message.id, tuple) else [key]))
        for text in strings:
            got = fields(text)
            # A singular may drop %(count)s ("one shop"), never invent a field.
            assert got[0] <= expected[0] and got[1] == expected[1], f"{lang}: fields in {text!r}"
            if "count" not in expected[0]:
                assert got[0] == expected[0], f"{lang}: fields in {text!r}"


@pytest.mark.parametrize("lang", [pytest.param(lang, id=lang) for lang in TRANSLATED])
def test_catalog_compiles_and_translates(lang: Lang) -> None:
    compiled = translations(lang)
    assert isinstance(compiled, gettext.GNUTranslations)
    assert compiled.gettext("certified") != "certified"
    assert compiled.gettext("No guarantee fund") != "No guarantee fund"


def test_english_is_the_msgids() -> None:
    assert translations("en").gettext("No guarantee fund") == "No guarantee fund"


def _bare_text(source: str) -> list[str]:
    """Text a template would show that does not pass through gettext."""
    source = re.sub(r"\{#.*?#\}", "", source, flags=re.S)
    source = re.sub(r"\{%-?\s*trans\b.*?%\}.*?\{%-?\s*endtrans\s*-?%\}", "", source, flags=re.S)
    source = re.sub(r"\{\{.*?\}\}", "", source, flags=re.S)
    source = re.sub(r"\{%.*?%\}", "", source, flags=re.S)
    found = []
    for attribute in re.findall(r'(?:alt|title|aria-label|placeholder)="([^"]*)"', source):
        if attribute.strip():
            found.append(attribute)
    source = re.sub(r"<!--.*?-->", "", source, flags=re.S)
    source = re.sub(r"<[^>]*>", " ", source)
    for chunk in source.split():
        # Punctuation joining translated parts is fine; words are not.
        if re.search(r"[^\W\d_]{2,}", chunk):
            found.append(chunk)
    return found


@pytest.mark.parametrize(
    "template", [pytest.param(p, id=p.name) for p in sorted(TEMPLATES.glob("*.html"))]
)
def test_templates_have_no_untranslated_text(template: Path) -> None:
    assert _bare_text(template.read_text()) == []


def test_bare_text_finder_finds_bare_text() -> None:
    assert _bare_text('<p>Hello</p><img alt="Logo">{% trans %}Fine{% endtrans %}') == [
        "Logo",
        "Hello",
    ]


def test_translated_values_are_escaped() -> None:
    env = jinja_environment("fr")
    page = env.from_string(
        "{% trans name=name %}BeCommerce issued this badge to {{ name }}, "
        "and the shop is certified now.{% endtrans %}|{{ _('You came from %(site)s', site=name) }}"
    )
    out = page.render(name="<b>x</b>")
    assert "<b>" not in out
    assert "&lt;b&gt;x&lt;/b&gt;" in out
    assert out.startswith("BeCommerce a délivré ce badge à")


@pytest.mark.parametrize(
    ("lang", "day", "moment"),
    [
        pytest.param("nl", "3 mei 2026", "3 mei 2026, 14:05", id="nl"),
        pytest.param("fr", "3 mai 2026", "3 mai 2026, 14:05", id="fr"),
        pytest.param("de", "3. Mai 2026", "3. Mai 2026, 14:05", id="de"),
        pytest.param("en", "3 May 2026", "3 May 2026, 14:05", id="en"),
    ],
)
def test_dates_read_as_at_home(lang: Lang, day: str, moment: str) -> None:
    assert format_day(lang, date(2026, 5, 3)) == day
    # Noon UTC is two in the afternoon in Brussels in May.
    assert format_moment(lang, datetime(2026, 5, 3, 12, 5, tzinfo=UTC)) == moment
    assert format_day(lang, None) == ""


def test_every_language_has_an_environment() -> None:
    for lang in LANGS:
        env = jinja_environment(lang)
        assert env.autoescape is True
        assert env.globals["lang"] == lang
