"""Sign-in throttling by client address, beside the per-account lock-out.

The account lock-out (`services.staff`) stops guessing one account's
password; this stops one address from trying many accounts. Failures are
counted in a sliding window in the database (table `sign_in_failure`), so
every gunicorn worker and every process counts the same failures, and a
restart forgets none. Rows older than the window are deleted as it slides.

Each failure also names the account it tried (a keyed hash of the e-mail
address entered). A successful sign-in forgets that account's failures from
that address, its holder's own typing errors, and nothing else: otherwise
anyone with an account could wipe the count between rounds of guessing other
people's passwords.

Each call is a short transaction of its own, apart from the request's: a
failure is written after the sign-in's commit, so no throttle write holds
SQLite's write lock while a password is hashed (argon2 is slow on purpose).
Callers must therefore have ended the request's write transaction first: on
SQLite one thread cannot hold two write transactions (see writer_queue).

Fail open: when the table cannot be read or written (database busy or
unreachable, table missing), the error is logged and the attempt goes on
unthrottled. Clinical staff must still be able to sign in; the per-account
lock-out, written in the sign-in's own transaction, still stops password
guessing, and a database that is really down fails the sign-in itself with
a 503 anyway. Failing closed would let a throttle fault lock everyone out.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import delete, exists, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from trialdb.models import SignInFailure

log = logging.getLogger(__name__)


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _seconds(moment: datetime) -> float:
    # SQLite gives back naive datetimes; every stored time is UTC
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


class SignInThrottle:
    """At most `limit` failed sign-ins per address within `window` seconds.

    `clock` gives wall-clock seconds (not a monotonic clock: several processes,
    possibly on several machines kept in time, compare the stored times).
    """

    def __init__(self, read: sessionmaker[Session], write: sessionmaker[Session], key: bytes,
                 limit: int = 20, window: float = 300.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.window = window
        self._read = read
        self._write = write
        self._key = key
        self._clock = clock

    def _keyed(self, purpose: bytes, text: str) -> str:
        """HMAC-SHA256 of `text` under the secret key, one purpose apart from the other."""
        return hmac.new(self._key, purpose + b"\0" + text.encode(), hashlib.sha256).hexdigest()

    def _account_digest(self, email: str) -> str:
        # the address as typed at sign-in and as stored differ in case and spaces only
        return self._keyed(b"sign-in account", email.strip().lower())

    def _digest(self, address: str) -> str:
        # Hashed, not truncated: truncating to a /24 or /64 would count a whole
        # hospital network (or everyone behind its NAT) as one address, so one
        # guesser there would block the ward. A keyed hash keeps one count per
        # address without storing it; keyed, because a plain SHA-256 of an IPv4
        # address is reversed by trying all 2^32 of them. Every worker shares the
        # secret key, hence the same digest.
        return self._keyed(b"sign-in throttle", address)

    def retry_after(self, address: str) -> int:
        """Seconds before this address may try again (0: it may now)."""
        now = self._clock()
        try:
            with self._read.begin() as session:
                recent = session.scalars(
                    select(SignInFailure.failed_at)
                    .where(SignInFailure.client_digest == self._digest(address),
                           SignInFailure.failed_at >= _moment(now - self.window))
                    .order_by(SignInFailure.failed_at.desc()).limit(self.limit)).all()
        except SQLAlchemyError:
            log.warning("sign-in throttle unavailable, not applied", exc_info=True)
            return 0
        if len(recent) < self.limit:
            return 0
        # once the limit-th most recent failure leaves the window, fewer than
        # `limit` remain in it
        return max(1, int(_seconds(recent[-1]) + self.window - now) + 1)

    def failed(self, address: str, email: str) -> None:
        """Count a failed step from `address` that named the account `email`."""
        now = self._clock()
        try:
            with self._write.begin() as session:
                session.execute(delete(SignInFailure)
                                .where(SignInFailure.failed_at < _moment(now - self.window)))
                session.execute(insert(SignInFailure).values(
                    client_digest=self._digest(address), account_digest=self._account_digest(email),
                    failed_at=_moment(now)))
        except SQLAlchemyError:
            log.warning("sign-in throttle unavailable, failure not counted", exc_info=True)

    def succeeded(self, address: str, email: str) -> None:
        """Forget the failures from this address that named this account (a read
        first: most sign-ins have none, and then take no write lock)."""
        mine = (SignInFailure.client_digest == self._digest(address),
                SignInFailure.account_digest == self._account_digest(email))
        try:
            with self._read.begin() as session:
                if not session.scalar(select(exists().where(*mine))):
                    return
            with self._write.begin() as session:
                session.execute(delete(SignInFailure).where(*mine))
        except SQLAlchemyError:
            log.warning("sign-in throttle unavailable, failures not cleared", exc_info=True)
