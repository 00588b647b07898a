"""Password hashing, signed tokens and HMAC helpers."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

_hasher = PasswordHash((Argon2Hasher(),))
_ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> tuple[bool, str | None]:
    """Check a password; the second value is a new hash when the stored one is outdated."""
    return _hasher.verify_and_update(password, password_hash)


def dummy_verify() -> None:
    """Spend the same time as a real check, so unknown usernames are not revealed by timing."""
    _hasher.verify("not-the-password", _DUMMY_HASH)


_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def issue_token(
    *, secret: str, subject: str, kind: str, ttl_s: int, claims: dict[str, Any] | None = None
) -> tuple[str, datetime]:
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=ttl_s)
    payload: dict[str, Any] = {
        "sub": subject,
        "typ": kind,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "jti": secrets.token_hex(8),
    }
    payload.update(claims or {})
    return jwt.encode(payload, secret, algorithm=_ALGORITHM), expires


def read_token(token: str, *, secret: str, kind: str) -> dict[str, Any] | None:
    """The token's claims, or None when it is forged, expired or of another kind."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[_ALGORITHM], options={"require": ["exp", "sub", "typ"]}
        )
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != kind:
        return None
    return claims


def canonical_json(value: Any) -> bytes:
    """The one canonical JSON encoding used for hashes and signatures."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def random_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
