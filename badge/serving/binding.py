"""Which badge a page gets: decided by the page that shows it, never by what it claims.

A browser sends the showing page's origin as `Referer` on a cross-origin image request
(unless the page suppresses it). A page can hide its origin but cannot forge another, so:

- a Referer host that is one of the shop's registered domains gets the certified badge;
- any other host gets "not valid for this site";
- no Referer at all gets the neutral "check this shop" badge. A copy on a fraudster's
  page that sets `no-referrer` must not say "certified", and a genuine shop page always
  sends its origin because the official snippets carry `referrerpolicy="origin"`;
- `d=` (what embed.js reports as the page's host) can only lower the verdict: a `d`
  that is not registered gives "not valid for this site", a registered one adds nothing.

Everything here is pure and cheap: the hot path calls it on every request.
"""

from __future__ import annotations

import re
from typing import Final

# Site classes, part of every badge variant's cache key. A certified variant's class is the
# registered domain it was served for (always with a dot, so it never equals the words
# below); OWN is the service's own pages (previews).
# The shop is not certified: one variant, whatever the page, with the neutral mark.
NOT_CERTIFIED: Final = "not_certified"
# No Referer: the "check this shop" badge, with the lookup mark.
LOOKUP: Final = "lookup"
MISMATCH: Final = "mismatch"
OWN: Final = "@"
MAX_NETLOC_BYTES: Final = 260  # a host name (253) and a port


def decide(
    certified: bool, domains: frozenset[str], referer_class: str | None, claim: str | None
) -> str:
    """The site class of the badge to serve.

    `referer_class` is the Referer's host as `referer_host` gives it, OWN for our own pages,
    or None without a Referer. `claim` is `d` normalised ("" when it is no host name), or None.
    """
    if not certified:
        return NOT_CERTIFIED
    if claim is not None and claim not in domains:
        return MISMATCH
    if referer_class is None:
        return LOOKUP
    if referer_class in domains or referer_class == OWN:
        return referer_class
    return MISMATCH


def variant_claims(site: str, own_host: str) -> dict[str, str]:
    """What a variant's signature says it shows, so a saved copy can be judged for it."""
    if site == NOT_CERTIFIED:
        return {"variant": "not_certified"}
    if site == LOOKUP:
        # The signed word for the badge without a page (a public contract) stays "neutral".
        return {"variant": "neutral"}
    if site == MISMATCH:
        return {"variant": "mismatch"}
    return {"variant": "certified", "site": own_host if site == OWN else site}


def classify_referer(referer: bytes, own_netlocs: frozenset[bytes]) -> tuple[str, bytes | None]:
    """A Referer header's class for `decide`, and its `host[:port]` to count as a sighting.

    "" for an unreadable one (it matches no domain), OWN for our own pages (no sighting),
    else the host as `referer_host` gives it."""
    netloc = referer_netloc(referer)
    if netloc is None or len(netloc) > MAX_NETLOC_BYTES:
        return "", None
    if netloc.lower() in own_netlocs:
        return OWN, None
    return referer_host(netloc), netloc


def referer_netloc(referer: bytes) -> bytes | None:
    """`host[:port]` of an absolute URL as sent, or None; one split."""
    parts = referer.split(b"/", 3)
    if len(parts) < 3 or parts[1] or not parts[0].endswith(b":") or not parts[2]:
        return None
    return parts[2]


def referer_host(netloc: bytes) -> str:
    """A Referer's `host[:port]` normalised like a registered domain, without IDNA work.

    Browsers serialise hosts in ASCII (punycode), and registered domains are stored that
    way, so lower case, no port, no trailing dot and no leading `www.` make them comparable.
    Anything odd (non-ASCII, userinfo) simply matches no registered domain.
    """
    text = netloc.decode("latin-1").lower()
    if text.startswith("["):
        end = text.find("]")
        host = text[: end + 1] if end > 0 else text
    else:
        host = text.partition(":")[0]
    host = host.rstrip(".")
    if host.startswith("www.") and host.count(".") >= 2:
        host = host[4:]
    return host


# A plain host as browsers send it (location.hostname, a Referer's host): ASCII letters,
# digits and hyphens in dot-separated labels, and a top-level domain.
_PLAIN_HOST: Final = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})"
)


def quick_domain(raw: str) -> str | None:
    """`rules.normalise_domain` for a plain ASCII host, with one regular expression and no IDNA;
    None when `raw` needs the full treatment (Unicode, a port, a scheme) or is no host.

    Punycode labels are taken as they are, not decoded: a label that is not valid punycode
    can never be a registered domain, so whatever is compared with registered domains
    gets the same answer as with `normalise_domain`.
    """
    if len(raw) > 253 or not raw.isascii():
        return None
    host = raw.lower().rstrip(".")
    if not _PLAIN_HOST.fullmatch(host):
        return None
    if host.startswith("www.") and host.count(".") >= 2:
        return host[4:]
    return host
