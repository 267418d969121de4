"""A spread of badge views for tests that compare two renderings of the same view.

Literal texts (not the catalogs) so a translation change never moves these fixtures.
"""

from __future__ import annotations

import dataclasses

from badge.render.svg import BadgeView, Mark
from badge.vocabulary import CATEGORY_COLOURS, LANGS, SIZES

TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJzaG9wLTEifQ.c2lnbmF0dXJl_-"
MARKS: tuple[Mark, ...] = ("certified", "neutral", "mismatch", "lookup", "error")

HEADLINES = {
    "nl": "BeCommerce Keurmerk",
    "fr": "Label BeCommerce",
    "de": "BeCommerce Gütesiegel",
    "en": "BeCommerce Keurmerk",
}
LINES: dict[str, dict[Mark, str]] = {
    "nl": {
        "certified": "Gecertificeerde webshop",
        "neutral": "Niet gecertificeerd: controleer",
        "mismatch": "Niet geldig voor deze site",
        "lookup": "Controleer deze shop",
        "error": "Onbekende grootte: xl",
    },
    "fr": {
        "certified": "E-shop certifié",
        "neutral": "Non certifié : vérifiez",
        "mismatch": "Pas valable pour ce site",
        "lookup": "Vérifiez la boutique",
        "error": "Taille inconnue : xl",
    },
    "de": {
        "certified": "Zertifizierter Onlineshop",
        "neutral": "Nicht zertifiziert: prüfen",
        "mismatch": "Nicht gültig für diese Website",
        "lookup": "Shop prüfen",
        "error": "Unbekannte Größe: xl",
    },
    "en": {
        "certified": "Certified webshop",
        "neutral": "Not certified: check",
        "mismatch": "Not valid for this site",
        "lookup": "Check this shop",
        "error": "Unknown size: xl",
    },
}


def spread() -> list[tuple[str, BadgeView, str | None]]:
    """(id, view, token): every mark, size and language, then the awkward cases."""
    cases: list[tuple[str, BadgeView, str | None]] = []
    for i, (mark, size, lang) in enumerate(
        (mark, size, lang) for mark in MARKS for size in SIZES for lang in LANGS
    ):
        view = BadgeView(
            mark=mark,
            size=size,
            lang=lang,
            headline=HEADLINES[lang],
            status_line=LINES[lang][mark],
            label=f"Webwinkel {i} — BeCommerce Keurmerk: {mark}. Click to verify.",
            shop_name=None if mark == "error" else f"Webwinkel nummer {i}",
            categories=("b2c_member", "sponsor") if mark == "certified" else (),
        )
        cases.append((f"{mark}-{size}-{lang}", view, TOKEN if i % 2 else None))
    base = cases[0][1]
    for size in SIZES:
        extras = {
            "no-categories": {"categories": ()},
            "all-categories": {"categories": tuple(reversed(CATEGORY_COLOURS))},
            "one-category": {"categories": ("webshop_partner",)},
            "long-name": {"shop_name": "Ä very long shop name that will not fit at all, really"},
            "shrunk-name": {"shop_name": "Bakkerij Van den Broeck-Vermeulen"},
            "no-name": {"shop_name": None},
            "blank-name": {"shop_name": "  \u200b "},
            "unicode-name": {"shop_name": "Śklep «Zażółć» 東京 ﬁne"},
            "wrapped-status": {
                "status_line": "Niet gecertificeerd: controleer deze webwinkel zelf"
            },
            "long-headline": {"headline": "BeCommerce Keurmerk voor webwinkels in België"},
            "escaped-label": {"label": "<b>&\"'</b> \x01 label"},
        }
        for name, changes in extras.items():
            view = dataclasses.replace(base, size=size, **changes)  # type: ignore[arg-type]
            cases.append((f"{name}-{size}", view, TOKEN))
    return cases
