"""The verdict on a badge token: is it ours, for whom, still valid, and what is true now.

An invalid signature is a verdict, never an exception that escapes.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from badge.registry.model import Shop
from badge.vocabulary import PublicState


@dataclass(frozen=True, slots=True)
class Verdict:
    genuine: bool
    shop_id: str | None
    shop_name: str | None
    domains: tuple[str, ...]
    issued_at: str | None
    expires_at: str | None
    expired: bool
    state_then: str | None
    state_now: PublicState | None
    certified_now: bool
    reason: str
    # What the badge showed when it was served (binding.variant_claims): "certified" for
    # `site`, or "mismatch", "neutral", "not_certified"; None for badges signed before
    # variants were signed, or when the signature is not ours.
    variant: str | None = None
    site: str | None = None

    @property
    def ok(self) -> bool:
        """What `badge verify` exits 0 on: genuine, unexpired, certified now, and a badge
        that said "certified" where it was served (never the mismatch or neutral badge)."""
        return (
            self.genuine
            and not self.expired
            and self.certified_now
            and self.variant in (None, "certified")
        )

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["domains"] = list(self.domains)
        return data


# What each variant said, worded so that "genuine" is never read as "certified here".
VARIANT_REASONS: dict[str, str] = {
    "certified": "it is the certified badge as served on {site}",
    "mismatch": (
        "it is the 'not valid for this site' badge, served on a website that is not one "
        "of the shop's registered domains: it never vouched for that site"
    ),
    "neutral": (
        "it is the neutral 'check this shop' badge, served without knowing the website: "
        "it never vouched for any site"
    ),
    "not_certified": "it is the 'not certified' badge, served while the shop was not certified",
}


def _iso(timestamp: object) -> str | None:
    if not isinstance(timestamp, int | float) or isinstance(timestamp, bool):
        return None
    try:
        return datetime.fromtimestamp(timestamp, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def not_genuine(reason: str) -> Verdict:
    return Verdict(
        genuine=False,
        shop_id=None,
        shop_name=None,
        domains=(),
        issued_at=None,
        expires_at=None,
        expired=False,
        state_then=None,
        state_now=None,
        certified_now=False,
        reason=reason,
    )


def issuer_difference(found: object, expected: str) -> str:
    """Why a token made with our key names another issuer: configuration, not forgery."""
    return (
        f"signed with this service's key but for another issuer ({found!r}, while "
        f"BADGE_PUBLIC_URL here is {expected!r}): a configuration difference; "
        "BADGE_PUBLIC_URL (by default http://BADGE_HOST:BADGE_PORT) must be the same "
        "wherever badges are made and checked"
    )


def judge_claims(
    claims: dict[str, Any],
    live: Shop | None,
    live_state: PublicState | None,
    *,
    issuer: str | None,
    now: float | None = None,
) -> Verdict:
    """The verdict on claims whose signature `KeyStore.verify` has already checked.

    `issuer` is the `iss` this service signs as; None accepts any issuer whose token our
    keys signed (the CLI, whose own URL settings may differ from the server's).
    The reason labels each part, so "not genuine" and "certified now" never read as one claim:
    `signature:` is about this badge, `live register:` about the shop it names, today.
    """
    moment = time.time() if now is None else now
    exp = claims.get("exp")
    expired = not isinstance(exp, int | float) or exp <= moment
    raw_domains = claims.get("domains")
    domains = (
        tuple(d for d in raw_domains if isinstance(d, str)) if isinstance(raw_domains, list) else ()
    )
    certified_now = live is not None and live_state == "certified"
    variant, site = _text(claims, "variant"), _text(claims, "site")
    genuine = issuer is None or claims.get("iss") == issuer
    signature = _signature_part(claims.get("iss"), issuer, expired)
    shown = VARIANT_REASONS.get(variant or "", "").format(site=site)
    if shown:
        signature += f"; badge: {shown}"
    if live is None:
        register = "the shop is no longer in the register"
    elif certified_now:
        register = "the shop is certified now"
    else:
        register = f"the shop is NOT certified now (state: {live_state})"
    # When the badge itself is refused, the shop's state is news about the shop, not the badge.
    scope = "live register" if genuine else "live register, about the shop id, not this badge"
    return Verdict(
        genuine=genuine,
        shop_id=_text(claims, "sub"),
        shop_name=_text(claims, "name"),
        domains=domains,
        issued_at=_iso(claims.get("iat")),
        expires_at=_iso(exp),
        expired=expired,
        state_then=_text(claims, "state"),
        state_now=live_state if live is not None else "unknown",
        certified_now=certified_now,
        reason=f"{signature}; {scope}: {register}",
        variant=variant,
        site=site,
    )


def _text(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) else None


def _signature_part(found: object, issuer: str | None, expired: bool) -> str:
    if issuer is not None and found != issuer:
        return f"signature: NOT genuine for this service, {issuer_difference(found, issuer)}"
    if expired:
        return (
            "signature: genuine (this service's key), but expired: a saved copy, "
            "live badges are signed again every day"
        )
    return "signature: genuine (this service's key)"
