"""The words on a badge, in the badge's language (msgids are English; catalogs translate)."""

from __future__ import annotations

from typing import Final

from badge.i18n import gettext_for
from badge.vocabulary import Lang, PublicState


def _(message: str) -> str:
    """Marks a msgid for extraction; translation happens at render time."""
    return message


STATE_WORDS: Final[dict[PublicState, str]] = {
    "certified": _("certified"),
    "suspended": _("suspended"),
    "revoked": _("revoked"),
    "expired": _("expired"),
    "unknown": _("unknown"),
}
HEADLINE: Final = _("BeCommerce Keurmerk")
CERTIFIED_LINE: Final = _("Certified webshop")
NEUTRAL_LINE: Final = _("Not certified: check")
# The small badge has no room for the longer line on one line in every language.
NEUTRAL_SHORT: Final = _("Not certified")
MISMATCH_LINE: Final = _("Not valid for this site")
LOOKUP_LINE: Final = _("Check this shop")
LABEL: Final = _("{shop}: BeCommerce Keurmerk, {state}. Click to verify.")
LABEL_MISMATCH: Final = _(
    "{shop}: BeCommerce Keurmerk badge shown on a site that is not registered. Click to verify."
)
LABEL_LOOKUP: Final = _(
    "{shop}: BeCommerce Keurmerk badge shown without its website. Click to check this shop."
)
LABEL_UNKNOWN: Final = _("BeCommerce Keurmerk: unknown shop, not certified. Click to verify.")
ERROR_LABEL: Final = _("BeCommerce Keurmerk badge request error: {error}")
UNKNOWN_SHOP: Final = _("Unknown shop")


def state_word(lang: Lang, state: PublicState) -> str:
    return gettext_for(lang, STATE_WORDS[state])


def t(lang: Lang, message: str, **values: str) -> str:
    text = gettext_for(lang, message)
    return text.format(**values) if values else text
