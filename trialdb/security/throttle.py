"""Sign-in throttling by client address, beside the per-account lock-out.

The account lock-out (`services.staff`) stops guessing one account's
password; this stops one address from trying many accounts. Failures are
counted in a sliding window, in the memory of the process (each gunicorn
worker keeps its own count, so the effective limit is at most
workers x `limit`; the reverse proxy can add a global one).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class SignInThrottle:
    """At most `limit` failed sign-ins per address within `window` seconds."""

    def __init__(self, limit: int = 20, window: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        while failures and now - failures[0] > self.window:
            failures.popleft()
        return failures

    def retry_after(self, address: str) -> int:
        """Seconds before this address may try again (0: it may now)."""
        with self._lock:
            now = self._clock()
            failures = self._recent(address, now)
            if len(failures) < self.limit:
                return 0
            return max(1, int(failures[0] + self.window - now) + 1)

    def failed(self, address: str) -> None:
        with self._lock:
            now = self._clock()
            self._recent(address, now).append(now)
            if len(self._failures) > 10_000:  # forget idle addresses, bound memory
                for key in [k for k, v in self._failures.items() if not v]:
                    del self._failures[key]

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)
