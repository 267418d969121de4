"""The signed, expiring token in the report form: the cookieless half of its CSRF defence."""

from __future__ import annotations

import time
from typing import Final

from badge.errors import Forbidden
from badge.signing import KeyStore

AUDIENCE: Final = "keurmerk-report"
# Longer than a cached page lives (it is rendered again when the shop's badge token is
# re-signed, at half its 24 h life), so a form served from the page cache still works.
FORM_TTL: Final = 36 * 3600


def form_token(keys: KeyStore, shop_id: str, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    return keys.sign({"aud": AUDIENCE, "sub": shop_id, "iat": issued, "exp": issued + FORM_TTL})


def check_form_token(keys: KeyStore, token: str, shop_id: str) -> None:
    claims, _why = keys.verify(token)
    if (
        claims is None
        or claims.get("aud") != AUDIENCE
        or claims.get("sub") != shop_id
        or not isinstance(claims.get("exp"), int)
        or claims["exp"] < time.time()
    ):
        raise Forbidden(
            "this form has expired or does not belong to this shop; open the shop's "
            "verification page again and send the report from there"
        )
