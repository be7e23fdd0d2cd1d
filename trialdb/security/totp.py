"""Time-based one-time passwords (RFC 6238) through pyotp: 6 digits, 30 seconds,
one step of clock drift allowed either way."""

from __future__ import annotations

from datetime import datetime

import pyotp

ISSUER = "trialdb"
DRIFT_STEPS = 1


def new_secret() -> str:
    """A fresh base32 secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, account: str) -> str:
    """The otpauth:// URI an authenticator app reads (typed in or as a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def current_code(secret: str, at: datetime | None = None) -> str:
    totp = pyotp.TOTP(secret)
    return totp.at(at) if at is not None else totp.now()


def normalise(code: str) -> str:
    return "".join(code.split())


def verify(secret: str, code: str, at: datetime | None = None) -> bool:
    """True when `code` is the secret's code now (or one step before or after)."""
    code = normalise(code)
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return False
    return bool(pyotp.TOTP(secret).verify(code, for_time=at, valid_window=DRIFT_STEPS))
