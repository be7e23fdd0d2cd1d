"""Time-based one-time passwords (RFC 6238) through pyotp: 6 digits, 30 seconds,
one step of clock drift allowed either way."""

from __future__ import annotations

import hmac
import time
from datetime import datetime

import pyotp
import segno

ISSUER = "trialdb"
DRIFT_STEPS = 1


def new_secret() -> str:
    """A fresh base32 secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account: str) -> str:
    """The otpauth:// URI an authenticator app reads (typed in or as a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_svg(uri: str, title: str) -> str:
    """The otpauth URI as a QR code in inline SVG (drawn here: no request leaves
    the page, and the strict Content-Security-Policy allows inline SVG)."""
    code = segno.make(uri, error="m")
    return str(code.svg_inline(scale=4, border=4, dark="#000", light="#fff", title=title,
                               svgclass="totp-qr", lineclass=None))


def current_code(secret: str, at: datetime | None = None) -> str:
    totp = pyotp.TOTP(secret)
    return totp.at(at) if at is not None else totp.now()


def normalise(code: str) -> str:
    return "".join(code.split())


def verify(secret: str, code: str, at: datetime | None = None) -> bool:
    """True when `code` is the secret's code now (or one step before or after)."""
    return matching_step(secret, code, at) is not None


def matching_step(secret: str, code: str, at: datetime | None = None,
                  after: int | None = None) -> int | None:
    """The time step (Unix time // 30 s) whose code `code` is, within the drift
    window around `at` (default now), or None. Only steps later than `after`
    count: the caller passes the last step it accepted, so a code is good once."""
    code = normalise(code)
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    generator = pyotp.TOTP(secret)
    now = generator.timecode(at if at is not None else time.time())
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(code, generator.generate_otp(step)):
            return step
    return None
