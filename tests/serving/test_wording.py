"""badge.serving.wording: the words on a badge, in each of its languages."""

from __future__ import annotations

import pytest

from badge.serving import wording
from badge.vocabulary import LANGS, PUBLIC_STATES, Lang

LINES = [
    wording.CERTIFIED_LINE,
    wording.NEUTRAL_LINE,
    wording.NEUTRAL_SHORT,
    wording.MISMATCH_LINE,
    wording.LOOKUP_LINE,
]


@pytest.mark.parametrize("lang", [lang for lang in LANGS if lang != "en"])
def test_every_line_is_translated(lang: Lang) -> None:
    for line in LINES:
        assert wording.t(lang, line) != line, (lang, line)
    assert len({wording.t(lang, line) for line in LINES}) == len(LINES)


def test_english_is_the_msgid() -> None:
    assert wording.t("en", wording.LOOKUP_LINE) == "Check this shop"


@pytest.mark.parametrize("lang", LANGS)
def test_labels_take_the_shop_and_its_state_in_the_language(lang: Lang) -> None:
    state = wording.state_word(lang, "suspended")
    label = wording.t(lang, wording.LABEL, shop="Fietsen & Co", state=state)
    assert "Fietsen & Co" in label and state in label
    assert "{" not in label


def test_each_public_state_has_a_word() -> None:
    assert set(wording.STATE_WORDS) == set(PUBLIC_STATES)
    words = {wording.state_word("fr", state) for state in PUBLIC_STATES}
    assert len(words) == len(PUBLIC_STATES)
