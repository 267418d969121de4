"""A test utility: the verdict on a token, as `POST /api/v1/verify` and `badge verify` reach it
(`KeyStore.verify`, then `judge_claims` with the live shop the caller looked up)."""

from __future__ import annotations

from badge.registry.model import Shop
from badge.signing import KeyStore
from badge.verify.verdict import Verdict, judge_claims, not_genuine
from badge.vocabulary import PublicState


def judge(
    token: str, keys: KeyStore, live: Shop | None, live_state: PublicState | None, *, issuer: str
) -> Verdict:
    claims, why = keys.verify(token)
    if claims is None:
        return not_genuine(why)
    return judge_claims(claims, live, live_state, issuer=issuer)
