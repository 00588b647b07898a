"""Checkpoint codes: what a QR code at a checkpoint says, how it is signed and drawn.

Two modes (docs/checkpoints.md is the reference for poster printers and screen makers):

- static, printed on a poster: ``SZ1:S:<checkpoint_id>:<key_version>:<sig>``,
  ``sig = HMAC-SHA256(secret, "SZ1:S:<checkpoint_id>:<key_version>")``;
- rotating, shown on a small screen: ``SZ1:R:<checkpoint_id>:<window>:<sig>`` with
  ``window = floor(unix_time / 30)`` and ``sig = HMAC-SHA256(display_key,
  "SZ1:R:<checkpoint_id>:<window>")``, where ``display_key`` is derived from the secret so
  that a screen (which must hold its key) can never make the printed code.

Signatures are the first 16 bytes of the MAC in upper-case hex: with upper-case checkpoint
ids the whole payload fits QR's compact alphanumeric mode. Nothing here touches the
database; check-in verification (``checkins.verify``) builds on it.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
from dataclasses import dataclass
from typing import Literal

import segno

PREFIX = "SZ1"
WINDOW_S = 30
SIG_HEX_CHARS = 32  # 16 bytes
DISPLAY_KEY_LABEL = b"SZ1 rotating display key"
# Checkpoint ids follow the registry's pattern, which has no ':'.
_CODE = re.compile(
    r"^SZ1:(?P<mode>[SR]):(?P<checkpoint>[A-Za-z0-9][A-Za-z0-9_.-]{0,63}):"
    r"(?P<number>[0-9]{1,12}):(?P<sig>[0-9A-Fa-f]{32})$"
)

CodeMode = Literal["static", "rotating"]


@dataclass(frozen=True)
class CheckpointCode:
    """A parsed (not yet verified) checkpoint code."""

    mode: CodeMode
    checkpoint_id: str
    # key version for a static code, time window for a rotating one
    number: int
    sig: str

    @property
    def signed_part(self) -> str:
        letter = "S" if self.mode == "static" else "R"
        return f"{PREFIX}:{letter}:{self.checkpoint_id}:{self.number}"

    @property
    def payload(self) -> str:
        return f"{self.signed_part}:{self.sig}"


def _mac(key: bytes, message: str) -> str:
    return (
        hmac.new(key, message.encode("ascii"), hashlib.sha256).hexdigest()[:SIG_HEX_CHARS].upper()
    )


def display_key(secret: str) -> str:
    """The key a checkpoint's screen holds: it makes rotating codes, never printed ones."""
    return hmac.new(secret.encode("utf-8"), DISPLAY_KEY_LABEL, hashlib.sha256).hexdigest()


def static_code(*, checkpoint_id: str, key_version: int, secret: str) -> str:
    signed = f"{PREFIX}:S:{checkpoint_id}:{key_version}"
    return f"{signed}:{_mac(secret.encode('utf-8'), signed)}"


def window_of(unix_time: float) -> int:
    return int(unix_time // WINDOW_S)


def rotating_code(*, checkpoint_id: str, window: int, display_key_hex: str) -> str:
    signed = f"{PREFIX}:R:{checkpoint_id}:{window}"
    return f"{signed}:{_mac(display_key_hex.encode('ascii'), signed)}"


def parse(text: str) -> CheckpointCode | None:
    """The code's parts, or None when the text is not a SafeZone checkpoint code."""
    match = _CODE.match(text.strip())
    if match is None:
        return None
    return CheckpointCode(
        mode="static" if match["mode"] == "S" else "rotating",
        checkpoint_id=match["checkpoint"],
        number=int(match["number"]),
        sig=match["sig"].upper(),
    )


def signature_valid(code: CheckpointCode, *, secret: str) -> bool:
    """Whether ``code`` was signed with this checkpoint secret (constant-time compare)."""
    if code.mode == "static":
        expected = _mac(secret.encode("utf-8"), code.signed_part)
    else:
        expected = _mac(display_key(secret).encode("ascii"), code.signed_part)
    return hmac.compare_digest(expected, code.sig)


def make_qr(payload: str) -> segno.QRCode:
    # Level M survives a scuffed or rain-spotted poster and still scans from a phone at 1 m.
    return segno.make_qr(payload, error="m")


def svg(payload: str, *, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    make_qr(payload).save(buffer, kind="svg", scale=scale, border=4, xmldecl=True)
    return buffer.getvalue()


def png(payload: str, *, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    make_qr(payload).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
