"""KeyStore: RFC 7638 kids, private keys kept private, rotation, and JWS checked by PyJWT and
joserfc, the libraries a platform or browser extension would verify our badges with."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jws
from joserfc import jwt as jose_jwt
from joserfc.errors import SecurityWarning
from joserfc.jwk import KeySet, OKPKey

from badge.signing import MAX_TOKEN_LENGTH, KeyStore, b64url, thumbprint
from tests.verdicts import judge

TTL = 3600
ISSUER = "https://badge.example"


def claims(**extra: object) -> dict[str, object]:
    now = int(time.time())
    return {
        "iss": ISSUER,
        "sub": "abcdefghijkmnpqr",
        "name": "Bakkerij Été & Zonen",
        "domains": ["bakkerij.be", "xn--bcher-kva.be"],
        "state": "certified",
        "iat": now,
        "exp": now + TTL,
        **extra,
    }


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    store = KeyStore(tmp_path / "keys", token_ttl=TTL)
    store.ensure()
    return store


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that hides nothing, so the modes we see are the ones the code asks for."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def segments(token: str) -> list[str]:
    return token.split(".")


def decode_segment(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def joserfc_payload(token: str, jwk: dict[str, str]) -> dict[str, Any]:
    # The contract fixes alg "EdDSA"; joserfc warns that RFC 9864 prefers "Ed25519".
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        signature = jws.deserialize_compact(
            token, OKPKey.import_key(cast(Any, jwk)), algorithms=["EdDSA"]
        )
    payload = json.loads(signature.payload)
    assert isinstance(payload, dict)
    return payload


# -- kid ---------------------------------------------------------------------------------


def test_thumbprint_matches_rfc8037_example() -> None:
    # RFC 8037, appendix A.3: the thumbprint of the example Ed25519 public key.
    x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    assert thumbprint(x) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_kid_is_the_rfc7638_thumbprint_per_joserfc(keys: KeyStore) -> None:
    keys.rotate()
    assert len(keys.records) == 2
    for record in keys.records:
        jwk = record.jwk()
        assert jwk["kid"] == record.kid
        assert OKPKey.import_key(cast(Any, jwk)).thumbprint() == record.kid
        # And by hand: SHA-256 of the required members, sorted, no whitespace.
        canonical = f'{{"crv":"Ed25519","kty":"OKP","x":"{record.x}"}}'.encode()
        assert record.kid == b64url(hashlib.sha256(canonical).digest())


def test_jwks_holds_public_halves_only(keys: KeyStore) -> None:
    (jwk,) = keys.jwks()["keys"]
    assert set(jwk) == {"kty", "crv", "x", "kid", "use", "alg"}
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and jwk["alg"] == "EdDSA"
    assert "d" not in jwk
    assert len(base64.urlsafe_b64decode(jwk["x"] + "=")) == 32


# -- files on disk -----------------------------------------------------------------------


def test_private_keys_are_private_on_disk(tmp_path: Path, open_umask: None) -> None:
    store = KeyStore(tmp_path / "deep" / "keys", token_ttl=TTL)
    store.ensure()
    store.rotate()
    keys_dir = tmp_path / "deep" / "keys"
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    pems = sorted(keys_dir.glob("*.pem"))
    assert [p.stem for p in pems] == sorted(r.kid for r in store.records)
    for path in [*pems, keys_dir / "keys.json"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    # Nothing in the directory is writable by others, whatever the umask.
    for path in keys_dir.iterdir():
        assert not path.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH), path.name
    manifest = (keys_dir / "keys.json").read_text()
    for pem in pems:
        assert "PRIVATE KEY" in pem.read_text()
        assert pem.read_text() not in manifest
    assert "PRIVATE" not in manifest


def test_ensure_is_idempotent_and_makes_one_key(tmp_path: Path) -> None:
    keys_dir = tmp_path / "keys"
    first = KeyStore(keys_dir, token_ttl=TTL)
    assert first.ensure() is True
    assert first.ensure() is False
    second = KeyStore(keys_dir, token_ttl=TTL)
    assert second.ensure() is False
    assert len(list(keys_dir.glob("*.pem"))) == 1
    assert [r.kid for r in second.records] == [r.kid for r in first.records]
    assert second.signing_kid == first.signing_kid
    # Both instances sign with the same key, so their tokens verify across each other.
    claims_1, _ = second.verify(first.sign(claims()))
    assert claims_1 is not None


def test_generate_reports_the_existing_key(keys: KeyStore) -> None:
    record, made = keys.generate()
    assert made is False
    assert record.kid == keys.signing_kid


def test_sign_before_loading_refuses(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not loaded"):
        KeyStore(tmp_path / "keys", token_ttl=TTL).sign(claims())


# -- rotation ----------------------------------------------------------------------------


def test_rotation_keeps_the_old_public_key_until_its_last_badge_expires(keys: KeyStore) -> None:
    old_kid = keys.signing_kid
    old_token = keys.sign(claims())
    new = keys.rotate()
    assert keys.signing_kid == new.kid != old_kid
    old = next(r for r in keys.records if r.kid == old_kid)
    assert old.retired_at is not None
    assert new.retired_at is None

    assert {k["kid"] for k in keys.jwks()["keys"]} == {old_kid, new.kid}
    just_before = old.retired_at + TTL - 1
    assert {r.kid for r in keys.published(now=just_before)} == {old_kid, new.kid}
    at_expiry = old.retired_at + TTL
    assert [r.kid for r in keys.published(now=at_expiry)] == [new.kid]
    assert [r.kid for r in keys.published(now=at_expiry + 10 * TTL)] == [new.kid]

    # New tokens carry the new kid; tokens from before the rotation still verify.
    assert decode_segment(segments(keys.sign(claims()))[0])["kid"] == new.kid
    verified, reason = keys.verify(old_token)
    assert verified is not None, reason


def test_another_process_sees_a_rotation(tmp_path: Path) -> None:
    server = KeyStore(tmp_path / "keys", token_ttl=TTL)
    server.ensure()
    assert server.reload_if_changed() is False
    operator = KeyStore(tmp_path / "keys", token_ttl=TTL)
    operator.ensure()
    new = operator.rotate()
    assert server.reload_if_changed() is True
    assert server.signing_kid == new.kid
    assert len(server.jwks()["keys"]) == 2
    assert server.reload_if_changed() is False


def test_two_rotations_publish_three_keys_and_sign_with_the_newest(keys: KeyStore) -> None:
    keys.rotate()
    newest = keys.rotate()
    assert keys.signing_kid == newest.kid
    assert len(keys.jwks()["keys"]) == 3
    assert sum(r.retired_at is None for r in keys.records) == 1


# -- interoperability --------------------------------------------------------------------


def test_header_is_eddsa_with_thumbprint_kid(keys: KeyStore) -> None:
    header = decode_segment(segments(keys.sign(claims()))[0])
    assert header == {"alg": "EdDSA", "kid": keys.signing_kid, "typ": "JWT"}


def test_token_verifies_with_pyjwt(keys: KeyStore) -> None:
    sent = claims()
    token = keys.sign(sent)
    (jwk,) = keys.jwks()["keys"]
    assert jwt.get_unverified_header(token)["kid"] == jwk["kid"]
    decoded = jwt.decode(
        token,
        jwt.PyJWK(jwk).key,
        algorithms=["EdDSA"],
        issuer=ISSUER,
        options={"require": ["iss", "sub", "iat", "exp"]},
    )
    assert decoded == sent


def test_token_verifies_with_pyjwt_jwks_client_style_lookup(keys: KeyStore) -> None:
    keys.rotate()
    token = keys.sign(claims())
    key_set = jwt.PyJWKSet.from_dict(keys.jwks())
    kid = jwt.get_unverified_header(token)["kid"]
    assert jwt.decode(token, key_set[kid].key, algorithms=["EdDSA"])["sub"] == claims()["sub"]


def test_token_verifies_with_joserfc(keys: KeyStore) -> None:
    sent = claims()
    token = keys.sign(sent)
    (jwk,) = keys.jwks()["keys"]
    assert joserfc_payload(token, jwk) == sent
    # joserfc's JWT layer, picking the key from the published set by kid.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SecurityWarning)
        decoded = jose_jwt.decode(
            token, KeySet.import_key_set(cast(Any, keys.jwks())), algorithms=["EdDSA"]
        )
    assert decoded.header["kid"] == keys.signing_kid
    assert decoded.claims == sent


def test_non_ascii_claims_round_trip(keys: KeyStore) -> None:
    sent = claims(name='<script>alert("é")</script> 🛒')
    verified, _ = keys.verify(keys.sign(sent))
    assert verified == sent
    (jwk,) = keys.jwks()["keys"]
    assert jwt.decode(keys.sign(sent), jwt.PyJWK(jwk).key, algorithms=["EdDSA"]) == sent


def test_our_verify_accepts_our_token(keys: KeyStore) -> None:
    sent = claims()
    assert keys.verify(keys.sign(sent)) == (sent, "signature is genuine")
    # Surrounding whitespace, as pasted into a form, is tolerated.
    assert keys.verify(" " + keys.sign(sent) + "\n")[0] == sent


# -- tampering ---------------------------------------------------------------------------


def flip(segment: str, index: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    char = segment[index]
    replacement = alphabet[(alphabet.index(char) + 1) % len(alphabet)]
    return segment[:index] + replacement + segment[index + 1 :]


def reencode(segment: str, **changes: object) -> str:
    data = decode_segment(segment)
    data.update(changes)
    return b64url(json.dumps(data, separators=(",", ":")).encode())


@pytest.mark.parametrize("part", [0, 1, 2], ids=["header", "payload", "signature"])
def test_every_single_character_change_is_refused(keys: KeyStore, part: int) -> None:
    token = keys.sign(claims())
    pieces = segments(token)
    accepted = []
    for index in range(len(pieces[part])):
        altered = list(pieces)
        altered[part] = flip(pieces[part], index)
        verified, reason = keys.verify(".".join(altered))
        if verified is not None:
            accepted.append(index)
        assert isinstance(reason, str) and reason
    # The last character matters too: base64url with non-zero spare bits is refused.
    assert accepted == []


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda h, p, s: (h, reencode(p, state="certified", sub="other")), id="claims"),
        pytest.param(lambda h, p, s: (h, reencode(p, exp=4_102_444_800)), id="expiry"),
        pytest.param(lambda h, p, s: (reencode(h, typ="JOSE"), p), id="header-field"),
        pytest.param(lambda h, p, s: (reencode(h, alg="none"), p), id="alg-none"),
        pytest.param(lambda h, p, s: (reencode(h, alg="HS256"), p), id="alg-hs256"),
        pytest.param(lambda h, p, s: (reencode(h, kid="nope"), p), id="unknown-kid"),
        pytest.param(lambda h, p, s: (reencode(h, kid=["x"]), p), id="kid-list"),
    ],
)
def test_tampered_tokens_are_refused(keys: KeyStore, tamper: Any) -> None:
    header, payload, signature = segments(keys.sign(claims(state="revoked")))
    new_header, new_payload = tamper(header, payload, signature)
    verified, reason = keys.verify(f"{new_header}.{new_payload}.{signature}")
    assert verified is None
    assert reason != "signature is genuine"


def test_signature_from_another_key_with_our_kid_is_refused(keys: KeyStore) -> None:
    header, payload, _ = segments(keys.sign(claims()))
    forged = Ed25519PrivateKey.generate().sign(f"{header}.{payload}".encode())
    verified, reason = keys.verify(f"{header}.{payload}.{b64url(forged)}")
    assert verified is None
    assert "altered or forged" in reason


def test_hs256_with_our_public_key_as_secret_is_refused(keys: KeyStore) -> None:
    """The classic algorithm confusion: sign HMAC with the published x as the secret."""
    (jwk,) = keys.jwks()["keys"]
    secret = base64.urlsafe_b64decode(jwk["x"] + "=")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyJWT warns that a 32-byte HMAC key is short
        token = jwt.encode(claims(), secret, algorithm="HS256", headers={"kid": jwk["kid"]})
    assert keys.verify(token)[0] is None


def nested(depth: int) -> str:
    return b64url(b"[" * depth + b"]" * depth)


HOSTILE = [
    pytest.param("", id="empty"),
    pytest.param("x" * (MAX_TOKEN_LENGTH + 1), id="too-long"),
    pytest.param("a." * 500_000 + "a", id="huge-many-dots"),
    pytest.param("abc.def", id="two-parts"),
    pytest.param("a.b.c.d", id="four-parts"),
    pytest.param("..", id="empty-parts"),
    pytest.param("eyJhbGciOiJFZERTQSJ9.e30", id="two-parts-real"),
    pytest.param("e!J.e30.AAAA", id="not-base64"),
    pytest.param("ey J.e30.AAAA", id="space-inside"),
    pytest.param("²³¹.e30.AAAA", id="unicode-digits"),
    pytest.param("a.e30.AAAA", id="impossible-length"),
    pytest.param(b64url(b"\xff\xfe") + ".e30.AAAA", id="header-not-utf8"),
    pytest.param(b64url(b"null") + ".e30.AAAA", id="header-null"),
    pytest.param(b64url(b'"EdDSA"') + ".e30.AAAA", id="header-string"),
    pytest.param(b64url(b'{"alg":"none"}') + ".e30.", id="alg-none-unsigned"),
    pytest.param(b64url(b'{"alg":"none"}') + ".e30.AAAA", id="alg-none"),
    pytest.param(b64url(b'{"alg":"EdDSA"}') + ".e30.AAAA", id="no-kid"),
    pytest.param(b64url(b'{"alg":"EdDSA","kid":"unknown"}') + ".e30.AAAA", id="unknown-kid"),
    pytest.param(nested(3000) + ".e30.AAAA", id="nested-json-header"),
    pytest.param(nested(100_000) + ".e30.AAAA", id="nested-json-header-huge"),
]


@pytest.mark.parametrize("token", HOSTILE)
def test_hostile_tokens_get_a_verdict_never_an_exception(keys: KeyStore, token: str) -> None:
    verified, reason = keys.verify(token)
    assert verified is None
    assert reason and reason != "signature is genuine"
    verdict = judge(token, keys, None, None, issuer=ISSUER)
    assert verdict.genuine is False
    assert verdict.ok is False
    assert verdict.shop_id is None and verdict.certified_now is False
    assert verdict.reason == reason


def test_our_kid_with_a_short_signature_is_refused(keys: KeyStore) -> None:
    header, payload, signature = segments(keys.sign(claims()))
    for cut in (b64url(b"\0"), signature[:40], signature + "AAAA"):
        verified, reason = keys.verify(f"{header}.{payload}.{cut}")
        assert verified is None, cut
        assert reason


def test_hostile_verification_is_fast(keys: KeyStore) -> None:
    started = time.perf_counter()
    for param in HOSTILE:
        keys.verify(param.values[0])  # type: ignore[arg-type]
    assert time.perf_counter() - started < 1.0


def test_token_from_another_issuer_is_not_genuine(keys: KeyStore) -> None:
    token = keys.sign(claims(iss="https://evil.example"))
    verdict = judge(token, keys, None, None, issuer=ISSUER)
    assert verdict.genuine is False
    assert "another issuer" in verdict.reason
