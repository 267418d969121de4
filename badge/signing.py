"""Ed25519 keys on disk, the JWKS, and compact JWS tokens baked into every badge."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from badge.settings import SettingsError

MANIFEST: Final = "keys.json"
MAX_TOKEN_LENGTH: Final = 8192


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not text or len(text) % 4 == 1 or not all(c.isalnum() or c in "-_" for c in text):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # The last character may carry unused bits; unless they are zero, several strings decode
    # to the same bytes and an altered token would still verify.
    if b64url(data) != text:
        raise ValueError("not canonical base64url")
    return data


def thumbprint(x: str) -> str:
    """RFC 7638: SHA-256 over the required members in lexicographic order, no spaces."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode("ascii")).digest())


@dataclass(frozen=True, slots=True)
class KeyRecord:
    kid: str
    x: str
    created_at: int
    retired_at: int | None

    @property
    def public_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(b64url_decode(self.x))

    def jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.x,
            "kid": self.kid,
            "use": "sig",
            "alg": "EdDSA",
        }


class UnsafeKeyFile(SettingsError):
    """A private key that group or others may read: refused, as ssh refuses one."""


def check_private_key_mode(path: Path) -> None:
    """Refuse a private key file with any permission for group or others."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise UnsafeKeyFile(
            f"private key {path} has permissions {mode:04o}, which let other users read it; "
            f"refusing to use it. Fix it with: chmod 600 {path}"
        )


class KeyStore:
    """The keys directory. Private keys stay in their 0600 files; only public halves leave."""

    def __init__(self, keys_dir: Path, *, token_ttl: int) -> None:
        self.dir = keys_dir
        self.token_ttl = token_ttl
        self._records: list[KeyRecord] = []
        self._signing: Ed25519PrivateKey | None = None
        self._signing_kid = ""
        self._mtime_ns = -1
        # Public keys other instances publish in Redis (badge.platform.keyshare): served and
        # trusted.
        self._external: list[KeyRecord] = []

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def ensure(self) -> bool:
        """Load the keys, making the first one when there is none. Returns True if made."""
        with self._locked():
            made = False
            if not self._read_manifest():
                self._generate_locked(retire_current=False)
                made = True
            self._load_locked()
            return made

    def reload_if_changed(self) -> bool:
        try:
            mtime = (self.dir / MANIFEST).stat().st_mtime_ns
        except FileNotFoundError:
            return False
        if mtime == self._mtime_ns:
            return False
        with self._locked():
            self._load_locked()
        return True

    def generate(self) -> tuple[KeyRecord, bool]:
        """The first signing key; idempotent. Returns (active key, whether it was made now)."""
        made = self.ensure()
        active = next(r for r in self._records if r.kid == self._signing_kid)
        return active, made

    def rotate(self) -> KeyRecord:
        with self._locked():
            record = self._generate_locked(retire_current=True)
            self._load_locked()
            return record

    def _generate_locked(self, *, retire_current: bool) -> KeyRecord:
        private = Ed25519PrivateKey.generate()
        raw = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        x = b64url(raw)
        now = int(time.time())
        record = KeyRecord(kid=thumbprint(x), x=x, created_at=now, retired_at=None)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path = self.dir / f"{record.kid}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        manifest = [
            asdict(replace(old, retired_at=now))
            if retire_current and old.retired_at is None
            else asdict(old)
            for old in self._read_manifest()
        ]
        manifest.append(asdict(record))
        tmp = self.dir / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps({"keys": manifest}, indent=2))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.dir / MANIFEST)
        return record

    def _read_manifest(self) -> list[KeyRecord]:
        try:
            data = json.loads((self.dir / MANIFEST).read_text())
        except FileNotFoundError:
            return []
        return [
            KeyRecord(
                kid=item["kid"],
                x=item["x"],
                created_at=item["created_at"],
                retired_at=item["retired_at"],
            )
            for item in data["keys"]
        ]

    def _load_locked(self) -> None:
        path = self.dir / MANIFEST
        records = self._read_manifest()
        signers = [record for record in records if record.retired_at is None]
        if not signers:
            raise RuntimeError(f"no active signing key in {self.dir}; run `badge keys rotate`")
        active = max(signers, key=lambda record: record.created_at)
        for record in records:
            key_path = self.dir / f"{record.kid}.pem"
            if record is active or key_path.exists():
                check_private_key_mode(key_path)
        pem = (self.dir / f"{active.kid}.pem").read_bytes()
        private = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise RuntimeError(f"key {active.kid} is not an Ed25519 key")
        self._records = records
        self._signing = private
        self._signing_kid = active.kid
        self._mtime_ns = path.stat().st_mtime_ns

    @property
    def records(self) -> list[KeyRecord]:
        return list(self._records)

    @property
    def signing_kid(self) -> str:
        return self._signing_kid

    def published(self, now: float | None = None) -> list[KeyRecord]:
        """Keys still needed: active ones, and retired ones until their last badge expires."""
        moment = time.time() if now is None else now
        return [
            r
            for r in self._records
            if r.retired_at is None or r.retired_at + self.token_ttl > moment
        ]

    def set_external(self, records: list[KeyRecord]) -> None:
        own = {r.kid for r in self._records}
        self._external = [r for r in records if r.kid not in own]

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [r.jwk() for r in [*self.published(), *self._external]]}

    def sign(self, claims: Mapping[str, Any]) -> str:
        if self._signing is None:
            raise RuntimeError("keys are not loaded")
        header = {"alg": "EdDSA", "kid": self._signing_kid, "typ": "JWT"}
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
        )
        signature = self._signing.sign(signing_input.encode("ascii"))
        return signing_input + "." + b64url(signature)

    def verify(self, token: str) -> tuple[dict[str, Any] | None, str]:
        """Check a compact JWS against every key we ever had. Returns (claims, reason).

        A bad signature is a verdict, so this never raises for hostile input.
        """
        if len(token) > MAX_TOKEN_LENGTH:
            return None, "token is too long"
        parts = token.strip().split(".")
        if len(parts) != 3:
            return None, "not a compact JWS (expected three dot-separated parts)"
        try:
            header = json.loads(b64url_decode(parts[0]))
            payload = b64url_decode(parts[1])
            signature = b64url_decode(parts[2])
        except (ValueError, RecursionError):
            # RecursionError: a hostile header of deeply nested JSON arrays.
            return None, "token is not valid base64url JSON"
        if not isinstance(header, dict) or header.get("alg") != "EdDSA":
            return None, "token is not signed with EdDSA"
        kid = header.get("kid")
        record = next((r for r in [*self._records, *self._external] if r.kid == kid), None)
        if record is None:
            return None, "token was signed with a key that is not ours"
        try:
            record.public_key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"))
        except InvalidSignature:
            return None, "signature does not match: the badge was altered or forged"
        try:
            claims = json.loads(payload)
        except ValueError:
            return None, "token payload is not JSON"
        if not isinstance(claims, dict):
            return None, "token payload is not a JSON object"
        return claims, "signature is genuine"
