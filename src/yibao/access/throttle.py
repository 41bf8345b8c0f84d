"""Login throttling: after ``max_failures`` wrong passwords for one username (or ``max_failures_ip``
from one client address) within ``window`` seconds, further attempts are refused for ``lockout``
seconds — even with the right password — so passwords cannot be guessed at speed.  A successful login
clears the username's count.  Counters live in the process (one per worker; with N workers an attacker
gets at most N × the allowance)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Count:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0


class LoginThrottle:
    def __init__(
        self,
        *,
        max_failures: int = 5,
        max_failures_ip: int = 50,
        window: float = 900.0,
        lockout: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures, self.max_failures_ip = max_failures, max_failures_ip
        self.window, self.lockout, self.clock = window, lockout, clock
        self._users: dict[str, _Count] = {}
        self._ips: dict[str, _Count] = {}
        self._lock = threading.Lock()

    def retry_after(self, username: str, ip: str) -> int:
        """Seconds until this username / address may try again (0: now)."""
        now = self.clock()
        with self._lock:
            waits = [
                c.locked_until - now for c in (self._users.get(username.lower()), self._ips.get(ip)) if c
            ]
        return max(0, int(max(waits, default=0.0)) + (1 if any(w > 0 for w in waits) else 0))

    def failed(self, username: str, ip: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._users) > 100_000 or len(self._ips) > 100_000:
                self._users.clear()
                self._ips.clear()
            for table, key, limit in (
                (self._users, username.lower(), self.max_failures),
                (self._ips, ip, self.max_failures_ip),
            ):
                c = table.setdefault(key, _Count())
                c.failures = [t for t in c.failures if now - t < self.window] + [now]
                if len(c.failures) >= limit:
                    c.locked_until = now + self.lockout
                    c.failures = []

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._users.pop(username.lower(), None)
