"""The compliance guard (routing.md §9): request caps per minute, concurrency caps, cooldowns.

All windows are 60 s sliding windows of monotonic timestamps; every check is O(1) amortised
per attempt (old entries fall off the left of a deque).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from gephyr_core.config import Settings

WINDOW = 60.0
RISK_STATUSES = frozenset({401, 403, 429, 529})


def _trim(window: deque[float], now: float) -> int:
    while window and now - window[0] >= WINDOW:
        window.popleft()
    return len(window)


class ComplianceGuard:
    """Acquired after selection for every attempt; a no-op while `compliance.enabled` is off."""

    def __init__(self, settings: Callable[[], Settings], clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self.clock = clock
        self._was_enabled = False
        self.reset()

    def reset(self) -> None:
        self.global_window: deque[float] = deque()
        self.account_windows: dict[str, deque[float]] = {}
        self.in_flight: dict[str, int] = {}
        self.cooldown_until: dict[str, float] = {}
        self.risks: deque[tuple[float, int, str]] = deque()
        self.switches: deque[float] = deque()

    def enabled(self) -> bool:
        on = bool(self._settings().get("compliance.enabled"))
        if self._was_enabled and not on:
            self.reset()  # turning the guard off wipes every counter
        self._was_enabled = on
        return on

    def budget(self, attempts: int) -> int:
        """The attempt budget, capped by `max_retry_attempts` when the guard is on."""
        if not self.enabled():
            return attempts
        return min(attempts, max(1, int(self._settings().get("compliance.max_retry_attempts"))))

    def acquire(self, account_id: str) -> str | None:
        """None when the attempt may go; otherwise why it is refused (it still costs the attempt)."""
        if not self.enabled():
            return None
        s = self._settings()
        now = self.clock()
        left = self.cooldown_until.get(account_id, 0.0) - now
        if left > 0:
            return f"account cooldown, {math.ceil(left)} s left"
        if _trim(self.global_window, now) >= int(s.get("compliance.max_global_requests_per_minute")):
            return "global requests-per-minute cap reached"
        window = self.account_windows.setdefault(account_id, deque())
        if _trim(window, now) >= int(s.get("compliance.max_account_requests_per_minute")):
            return "account requests-per-minute cap reached"
        if self.in_flight.get(account_id, 0) >= int(s.get("compliance.max_account_concurrency")):
            return "account concurrency cap reached"
        self.global_window.append(now)
        window.append(now)
        self.in_flight[account_id] = self.in_flight.get(account_id, 0) + 1
        return None

    def release(self, account_id: str) -> None:
        """The attempt's response ended (for streams: the stream ended or the client left)."""
        count = self.in_flight.get(account_id, 0)
        if count > 1:
            self.in_flight[account_id] = count - 1
        else:
            self.in_flight.pop(account_id, None)

    def risk(self, account_id: str, status: int) -> None:
        """Record a risk signal; 401/403/529 (and 429 when configured) start a cooldown."""
        if status not in RISK_STATUSES or not self.enabled():
            return
        s = self._settings()
        now = self.clock()
        self.risks.append((now, status, account_id))
        if status != 429 or s.get("compliance.cooldown_on_http_429"):
            self.cooldown_until[account_id] = now + float(s.get("compliance.risk_cooldown_seconds"))

    def switched(self) -> None:
        """Count an account switch (kept whether or not the guard is on: metrics read it)."""
        now = self.clock()
        _trim(self.switches, now)
        self.switches.append(now)

    def snapshot(self) -> dict[str, Any]:
        now = self.clock()
        while self.risks and now - self.risks[0][0] >= WINDOW:
            self.risks.popleft()
        per_account = {a: n for a, w in self.account_windows.items() if (n := _trim(w, now))}
        return {
            "global_requests_in_last_minute": _trim(self.global_window, now),
            "account_requests_in_last_minute": per_account,
            "account_in_flight": dict(self.in_flight),
            "account_cooldown_seconds_remaining": {
                a: int(t - now) + 1 for a, t in self.cooldown_until.items() if t > now
            },
            "risk_signals_last_minute": len(self.risks),
            "account_403_in_last_minute": _count(self.risks, 403),
            "account_429_in_last_minute": _count(self.risks, 429),
            "account_switches_last_minute": _trim(self.switches, now),
        }


def _count(risks: deque[tuple[float, int, str]], status: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for _, s, account_id in risks:
        if s == status:
            out[account_id] = out.get(account_id, 0) + 1
    return out
