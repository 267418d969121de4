"""Domain rules: enterprise numbers, domain names, ids, dates and state transitions.

Every rule about what may be stored lives here. Both registry backends call the checks on
the row as it will be written, inside their write transaction (see store.py).
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, Final
from urllib.parse import urlsplit

import idna

from badge.errors import Conflict, ValidationError
from badge.registry import lookalike
from badge.registry.model import (
    NewReport,
    NewShop,
)
from badge.vocabulary import (
    CATEGORIES,
    SHOP_ID_ALPHABET,
    SHOP_ID_LENGTH,
    STATES,
    Category,
    State,
)

_ID_ALPHABET: Final = SHOP_ID_ALPHABET
ID_LENGTH: Final = SHOP_ID_LENGTH
_ID_RE: Final = re.compile(rf"^[{_ID_ALPHABET}]{{{ID_LENGTH}}}$")

MAX_NAME: Final = 200
MAX_REASON: Final = 1000
MAX_DOMAINS: Final = 20
# Explicit embeddings, overrides and isolates, and the implicit marks.
BIDI_CONTROLS: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Zero-width and other characters that show nothing (most are format characters, Cf).
INVISIBLE: Final = frozenset(
    "\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u2060\u3164\ufeff\uffa0"
)
MIN_DATE: Final = date(1990, 1, 1)
MAX_DATE: Final = date(2100, 12, 31)

# Sightings are bounded per shop so a hostile page cycling `?d=` values cannot grow the table.
MAX_SIGHTINGS_PER_SHOP: Final = 200


def new_shop_id() -> str:
    """80 random bits in a lower-case alphabet without look-alikes: opaque, never sequential."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(ID_LENGTH))


def new_report_id() -> str:
    return "r" + new_shop_id()


def is_report_id(value: str) -> bool:
    return len(value) == ID_LENGTH + 1 and value[0] == "r" and is_shop_id(value[1:])


def is_shop_id(value: str) -> bool:
    return bool(_ID_RE.match(value))


def normalise_enterprise_number(raw: str) -> str:
    """Return `0123.456.749` form, or raise ValidationError saying what is wrong."""
    text = raw.strip().upper()
    text = text.removeprefix("BE").strip()
    digits = re.sub(r"[\s.\-]", "", text)
    if not digits.isdigit() or not digits.isascii():
        raise ValidationError(f"enterprise number {raw!r} must contain only digits, dots or spaces")
    if len(digits) == 9:
        # Numbers issued before 2023 are often still written with nine digits.
        digits = "0" + digits
    if len(digits) != 10:
        raise ValidationError(f"enterprise number {raw!r} must have ten digits, like 0123.456.749")
    if digits[0] not in "01":
        raise ValidationError(f"enterprise number {raw!r} must start with 0 or 1")
    body, check = int(digits[:8]), int(digits[8:])
    if 97 - body % 97 != check:
        raise ValidationError(
            f"enterprise number {raw!r} has a wrong check digit (expected {97 - body % 97:02d})"
        )
    return f"{digits[:4]}.{digits[4:7]}.{digits[7:]}"


def normalise_domain(raw: str) -> str:
    """Lower case, IDNA (punycode), no scheme, path, port or trailing dot, no leading `www.`.

    `www.` is dropped on purpose: a shop registered as shop.be is the same shop at
    www.shop.be, and consumers type either.
    """
    text = raw.strip(" ")
    if not text:
        raise ValidationError("domain is empty")
    if len(text) > 2048:
        raise ValidationError("domain is too long")
    # urlsplit and IDNA would quietly drop tabs, line breaks and invisible characters
    # (`shop.be\r\nevil` became shop.beevil): refuse them instead.
    for ch in text:
        if unicodedata.category(ch) in _NOT_IN_DOMAINS:
            raise ValidationError(
                f"domain {_shown(text)} contains a space, control or invisible character "
                f"(U+{ord(ch):04X})"
            )
    if "://" not in text:
        text = "//" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:
        raise ValidationError(f"domain {raw!r} is not a host name") from None
    if not host:
        raise ValidationError(f"domain {raw!r} is not a host name")
    host = host.rstrip(".")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        raise ValidationError(f"domain {raw!r} is an IP address; register a domain name")
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValidationError(f"domain {raw!r} is not a valid domain name ({exc})") from None
    ascii_host = ascii_host.lower()
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or len(labels) < 2:
        raise ValidationError(f"domain {raw!r} needs at least a name and a top-level domain")
    for label in labels:
        if not re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", label):
            raise ValidationError(f"domain {raw!r} has an invalid label {label!r}")
    if not re.fullmatch(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}", labels[-1]):
        raise ValidationError(f"domain {raw!r} has an invalid top-level domain")
    if labels[0] == "www" and len(labels) > 2:
        ascii_host = ascii_host[4:]
    return ascii_host


_NOT_IN_DOMAINS: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def try_normalise_domain(raw: str) -> str | None:
    try:
        return normalise_domain(raw)
    except ValidationError:
        return None


def unicode_domain(ascii_host: str) -> str:
    """The human form of a stored (punycode) domain, for pages."""
    try:
        return idna.decode(ascii_host)
    except idna.IDNAError:
        return ascii_host


def normalise_domains(raw: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for item in raw:
        seen[normalise_domain(item)] = None
    if not seen:
        raise ValidationError("a shop needs at least one registered domain")
    if len(seen) > MAX_DOMAINS:
        raise ValidationError(f"a shop can have at most {MAX_DOMAINS} domains")
    return tuple(seen)


def parse_category(raw: str) -> Category:
    value = raw.strip().lower().replace("-", "_")
    if value not in CATEGORIES:
        raise ValidationError(f"unknown category {raw!r}; choose from {', '.join(CATEGORIES)}")
    return value


def parse_categories(raw: Iterable[str]) -> tuple[Category, ...]:
    chosen = {parse_category(item) for item in raw}
    # Stored in the seed's fixed order so badges and pages are deterministic.
    return tuple(c for c in CATEGORIES if c in chosen)


def parse_state(raw: str) -> State:
    value = raw.strip().lower()
    if value == "expired":
        raise ValidationError(
            "expired is derived from valid_until and cannot be set; change valid_until instead"
        )
    if value not in STATES:
        raise ValidationError(f"unknown state {raw!r}; choose from {', '.join(STATES)}")
    return value


def parse_date(raw: str | None, what: str) -> date | None:
    if raw is None or str(raw).strip() == "":
        return None
    text = str(raw).strip()
    try:
        # Bounded first: fromisoformat also reads week dates and long forms we do not want.
        day = date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise ValidationError(f"{what} {_shown(text)} must be a date like 2027-12-31")
    return check_date_range(day, what)


def check_date_range(day: date, what: str) -> date:
    """Keurmerk dates lie between MIN_DATE and MAX_DATE; outside is a typo, not a plan
    (and year 1 or 9999 overflows the time-zone arithmetic done with them)."""
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValidationError(
            f"{what} {day.isoformat()} is out of range; use a date from "
            f"{MIN_DATE.isoformat()} to {MAX_DATE.isoformat()}"
        )
    return day


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:39] + "…")


def clean_text(raw: str, what: str, *, limit: int = MAX_NAME) -> str:
    """One line of NFC text. Bidi controls and invisible characters are refused, not
    removed: they reorder or hide what a consumer reads, so the operator must see the
    problem and retype the name rather than have us guess what was meant."""
    text = " ".join(str(raw).split())
    if not text:
        raise ValidationError(f"{what} is empty")
    if len(text) > limit:
        raise ValidationError(f"{what} is longer than {limit} characters")
    if any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in text):
        raise ValidationError(f"{what} contains control characters")
    # Lone surrogates (from undecodable bytes on a command line, or JSON escapes) are not
    # text and cannot be stored.
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        raise ValidationError(f"{what} is not valid Unicode text")
    for ch in text:
        if ch in BIDI_CONTROLS:
            raise ValidationError(
                f"{what} contains the bidi control U+{ord(ch):04X}, which can reverse how "
                "text reads; type it without"
            )
        if ch in INVISIBLE or unicodedata.category(ch) == "Cf":
            raise ValidationError(
                f"{what} contains the invisible character U+{ord(ch):04X}; type it without"
            )
    return unicodedata.normalize("NFC", text)


def check_validity(certified_since: date | None, valid_until: date | None, why: str = "") -> None:
    """A certificate cannot end before it starts. Checked on the row as it will be
    written: an edit of either date, a registration, and a first certification."""
    if certified_since is not None and valid_until is not None and valid_until < certified_since:
        raise ValidationError(
            f"valid_until {valid_until.isoformat()} is before certified_since "
            f"{certified_since.isoformat()}{why}"
        )


def check_new_shop(shop: NewShop) -> None:
    """What a registration must satisfy against itself (the domains are checked against
    the other shops by check_domains_free)."""
    check_validity(shop.certified_since, shop.valid_until)


DATE_FIELDS: Final = ("certified_since", "valid_until", "last_audit")


def parse_dates(sent: Mapping[str, Any]) -> dict[str, date | None]:
    """A record's date fields as sent (YYYY-MM-DD text, or None to keep), parsed."""
    return {field: parse_date(sent.get(field), field) for field in DATE_FIELDS}


def validate_new_shop(
    *,
    display_name: str,
    legal_name: str,
    enterprise_number: str,
    domains: Iterable[str],
    categories: Iterable[str] = (),
    state: str = "certified",
    certified_since: str | None = None,
    valid_until: str | None = None,
    last_audit: str | None = None,
    today: date,
) -> NewShop:
    parsed_state = parse_state(state)
    since = parse_date(certified_since, "certified_since")
    if since is None and parsed_state == "certified":
        since = today
    until = parse_date(valid_until, "valid_until")
    check_validity(since, until)
    return NewShop(
        display_name=clean_text(display_name, "name"),
        legal_name=clean_text(legal_name, "legal name"),
        enterprise_number=normalise_enterprise_number(enterprise_number),
        domains=normalise_domains(domains),
        categories=parse_categories(categories),
        state=parsed_state,
        certified_since=since,
        valid_until=until,
        last_audit=parse_date(last_audit, "last_audit"),
    )


def check_domains_free(domains: Iterable[str], taken: Mapping[str, str]) -> None:
    """Refuse a domain registered to another shop, or one that looks like it.

    `taken` maps every domain registered to *other* shops to its shop id; the backends
    read it in the write transaction that stores the domains.
    """
    for domain in domains:
        if domain in taken:
            raise Conflict(f"domain {domain} is already registered to shop {taken[domain]}")
    check_not_confusable(domains, taken)


def check_not_confusable(domains: Iterable[str], taken: Mapping[str, str]) -> None:
    """Refuse a domain that looks like one registered to another shop (UTS #39 skeletons).

    `taken` maps every domain registered to *other* shops to its shop id.
    """
    for domain in domains:
        other = lookalike.find_confusable(domain, taken)
        if other is not None:
            raise Conflict(
                f"domain {shown_domain(domain)} looks like {shown_domain(other)}, registered "
                f"to shop {taken[other]}; a look-alike of another shop's domain is refused"
            )


def shown_domain(ascii_host: str) -> str:
    """A stored domain as people should see it: Unicode, with the punycode next to it
    when the Unicode form could pass for another name (as browsers do)."""
    text = unicode_domain(ascii_host)
    if text != ascii_host and lookalike.is_suspicious(ascii_host):
        return f"{text} ({ascii_host})"
    return text


def renewal_reason(valid_until: date) -> str:
    return f"valid until changed to {valid_until.isoformat()}"


MAX_REPORT_NOTE: Final = 1000


def validate_report(
    shop_id: str, host: str, referrer: str | None, note: str, lang: str
) -> NewReport:
    """A consumer's report: the site is a host name or address, the note short plain text."""
    if not is_shop_id(shop_id):
        raise ValidationError("unknown shop")
    text = host.strip()
    if not text:
        raise ValidationError("site: say which website you saw the badge on")
    site = try_normalise_domain(text)
    if site is None:
        try:
            literal = urlsplit(text if "://" in text else "//" + text).hostname
            site = str(ipaddress.ip_address(literal or ""))
        except ValueError:
            raise ValidationError(f"site: {text[:80]!r} is not a website address") from None
    cleaned = " ".join(note.split())
    if len(cleaned) > MAX_REPORT_NOTE:
        raise ValidationError(f"note: at most {MAX_REPORT_NOTE} characters")
    return NewReport(
        shop_id=shop_id,
        host=site,
        referrer=None if referrer is None else referrer[:253],
        note=cleaned,
        lang=lang,
    )
