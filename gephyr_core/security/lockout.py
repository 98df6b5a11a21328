"""Admin lockout (security.md §4): failed admin logins counted per client IP over a window."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from gephyr_core.errors import GephyrError

#: more tracked IPs than this and the oldest idle entries are forgotten (bounded memory)
MAX_TRACKED = 10000


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 10
    window_seconds: int = 60
    lockout_seconds: int = 60


class LockedOut(GephyrError):
    """429 `auth_locked_out` with `Retry-After`."""

    code = "auth_locked_out"

    def __init__(self, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            f"too many failed admin logins from this address; retry in {seconds} s",
            headers={"retry-after": str(seconds)},
        )


class Lockout:
    """Failure counts and locks per IP; called from the event loop only (no lock needed)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._locked: dict[str, float] = {}
        self.lockouts_total = 0
        self.failures_total = 0  # every failed admin authentication (metrics)

    def check(self, ip: str | None) -> None:
        """Raise `LockedOut` while `ip` is locked."""
        if ip is None:
            return
        until = self._locked.get(ip)
        if until is None:
            return
        remaining = until - self._clock()
        if remaining > 0:
            raise LockedOut(remaining)
        del self._locked[ip]

    def failure(self, ip: str | None, policy: LockoutPolicy) -> bool:
        """Count a failed login; True when this failure locks the IP."""
        self.failures_total += 1
        if ip is None:
            return False
        now = self._clock()
        times = self._failures.setdefault(ip, deque())
        times.append(now)
        while times and times[0] <= now - policy.window_seconds:
            times.popleft()
        if len(times) < policy.max_failures:
            self._trim()
            return False
        del self._failures[ip]
        self._locked[ip] = now + policy.lockout_seconds
        self.lockouts_total += 1
        return True

    def success(self, ip: str | None) -> None:
        """A successful login clears the IP's count."""
        if ip is not None:
            self._failures.pop(ip, None)

    def locked(self) -> dict[str, float]:
        """IP → seconds left, for the locks still running."""
        now = self._clock()
        return {ip: until - now for ip, until in self._locked.items() if until > now}

    def _trim(self) -> None:
        if len(self._failures) <= MAX_TRACKED:
            return
        for ip in list(self._failures)[: len(self._failures) - MAX_TRACKED]:
            del self._failures[ip]
        now = self._clock()
        for ip in [ip for ip, until in self._locked.items() if until <= now]:
            del self._locked[ip]
