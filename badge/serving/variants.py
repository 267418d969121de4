"""What a badge says: a pure function of the live state, the query and the requesting page.

Nothing here loads, caches, signs or renders. The badge service asks `decide` for the
site class and the view of a variant; the renderers draw the view; binding.py holds the
rule for the page that shows the badge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from badge.registry.model import DomainStatus, Shop
from badge.render.svg import BadgeView, Mark
from badge.serving import binding
from badge.serving.wording import (
    CERTIFIED_LINE,
    ERROR_LABEL,
    HEADLINE,
    LABEL,
    LABEL_LOOKUP,
    LABEL_MISMATCH,
    LABEL_UNKNOWN,
    LOOKUP_LINE,
    MISMATCH_LINE,
    NEUTRAL_LINE,
    NEUTRAL_SHORT,
    state_word,
    t,
)
from badge.vocabulary import (
    DEFAULT_SIZE,
    LANGS,
    SCALES,
    SIZES,
    Format,
    Lang,
    PublicState,
    Size,
)

# (shop id, format, language, size, scale, site class); the site class is binding.decide's.
VariantKey = tuple[str, Format, Lang, Size, int, str]
ErrorKind = Literal["lang", "size", "scale", "d", "query"]
# What an error badge says. The bad value itself goes in the X-Badge-Error header.
ERROR_TEXTS: Final[dict[ErrorKind, str]] = {
    "lang": f"lang? ({', '.join(LANGS)})",
    "size": f"size? ({', '.join(SIZES)})",
    "scale": f"scale? ({', '.join(map(str, SCALES))})",
    "d": "d: not a host name",
    "query": "query string too long",
}


@dataclass(frozen=True, slots=True)
class SitePolicy:
    """Which domain proofs give the certified badge besides a proven one (settings)."""

    # A domain registered before proofs existed certifies (BADGE_DOMAINS_BEFORE_PROOFS_CERTIFY).
    before_proofs: bool = True
    # A lost proof keeps certifying this long (BADGE_DOMAIN_LOST_GRACE).
    grace: timedelta = timedelta(days=7)


def certifying_sites(
    shop: Shop, now: datetime, policy: SitePolicy
) -> tuple[frozenset[str], datetime | None]:
    """The domains whose pages get the certified badge, and when that set changes next by
    itself (a lost proof's grace period ending), or None.

    Worked out once when a shop is loaded, so the hot path's verdict stays one set lookup.
    A pending domain and a lost one past its grace get "not valid for this site". A shop
    with no proofs at all is a record from before proofs existed (an older instance's copy
    in Redis): its domains count as registered before proofs.
    """
    statuses = shop.proofs or tuple(
        DomainStatus(d, "registered_before_proofs") for d in shop.domains
    )
    sites: set[str] = set()
    changes: datetime | None = None
    for status in statuses:
        if status.domain not in shop.domains:
            continue
        if status.state == "proven" or (
            status.state == "registered_before_proofs" and policy.before_proofs
        ):
            sites.add(status.domain)
        elif status.state == "lost" and status.since is not None:
            end = status.since + policy.grace
            if now < end:
                sites.add(status.domain)
                changes = end if changes is None else min(changes, end)
    return frozenset(sites), changes


@dataclass(frozen=True, slots=True)
class Decision:
    """One badge variant's meaning: its site class (part of the cache key) and its look."""

    site: str
    view: BadgeView


def decide(
    shop: Shop,
    state: PublicState,
    lang: Lang,
    size: Size,
    referer_class: str | None,
    claim: str | None,
    sites: frozenset[str] | None = None,
) -> Decision:
    """The badge a page gets. `referer_class` is the Referer's class (binding.referer_host,
    or binding.OWN), `claim` is `d` normalised ("" for no host name); both may be None.
    `sites` are the shop's certifying domains (`certifying_sites`; by default, with the
    default policy as of now)."""
    if sites is None:
        sites = certifying_sites(shop, datetime.now(UTC), SitePolicy())[0]
    site = binding.decide(state == "certified", sites, referer_class, claim)
    return Decision(site, badge_view(shop, state, site, lang, size))


def retarget(site: str, certified: bool, domains: frozenset[str]) -> tuple[str, ...]:
    """The site classes that take the place of `site` after a change of the shop: what the
    pages that got `site` before get now."""
    if not certified:
        return (binding.NOT_CERTIFIED,)
    if site == binding.NOT_CERTIFIED:
        # Not certified before: its own sites are the pages that will ask.
        return tuple(sorted(domains))
    if site in (binding.LOOKUP, binding.MISMATCH, binding.OWN) or site in domains:
        return (site,)
    return (binding.MISMATCH,)  # a domain the shop no longer has


def badge_view(shop: Shop, state: PublicState, site: str, lang: Lang, size: Size) -> BadgeView:
    """What a variant of a known shop shows, for its site class."""
    mark: Mark
    name = shop.display_name
    if site == binding.NOT_CERTIFIED or state != "certified":
        mark, line = "neutral", NEUTRAL_SHORT if size == "s" else NEUTRAL_LINE
        label = t(lang, LABEL, shop=name, state=state_word(lang, state))
    elif site == binding.MISMATCH:
        mark, line = "mismatch", MISMATCH_LINE
        label = t(lang, LABEL_MISMATCH, shop=name)
    elif site == binding.LOOKUP:
        mark, line = "lookup", LOOKUP_LINE
        label = t(lang, LABEL_LOOKUP, shop=name)
    else:
        mark, line = "certified", CERTIFIED_LINE
        label = t(lang, LABEL, shop=name, state=state_word(lang, state))
    return _view(mark, size, lang, t(lang, line), label, name, shop.categories)


def unknown_view(lang: Lang, size: Size) -> BadgeView:
    """No such shop, or the registry is out of reach: a neutral badge that names nobody."""
    return _view("neutral", size, lang, t(lang, NEUTRAL_LINE), t(lang, LABEL_UNKNOWN), None, ())


def error_view(kind: ErrorKind, lang: Lang) -> BadgeView:
    """A fixed text per kind, never the bad value, so no request makes us draw anything new."""
    text = ERROR_TEXTS[kind]
    return _view("error", DEFAULT_SIZE, lang, text, t(lang, ERROR_LABEL, error=text), None, ())


def _view(
    mark: Mark,
    size: Size,
    lang: Lang,
    status_line: str,
    label: str,
    shop_name: str | None,
    categories: tuple[str, ...],
) -> BadgeView:
    return BadgeView(
        mark=mark,
        size=size,
        lang=lang,
        headline=t(lang, HEADLINE),
        status_line=status_line,
        label=label,
        shop_name=shop_name,
        categories=categories if mark == "certified" else (),
    )
