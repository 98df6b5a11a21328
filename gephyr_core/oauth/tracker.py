"""Flow phases, the 20-event history, counters and failure codes (oauth.md §4)."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from gephyr_core.errors import GephyrError

PHASES = (
    "idle",
    "prepared",
    "callback_received",
    "exchanging_token",
    "fetching_user_info",
    "saving_account",
    "linked",
    "rejected",
    "failed",
    "cancelled",
)
TERMINAL = frozenset({"linked", "rejected", "failed", "cancelled"})
HISTORY = 20

#: first match of a `failed` detail → failure code
_CODES = (
    ("state_mismatch", "oauth.state_mismatch"),
    ("state_missing", "oauth.state_missing"),
    ("flow_not_active", "oauth.flow_not_active"),
    ("exchange_failed", "oauth.exchange_failed"),
    ("refresh_token_missing", "oauth.refresh_token_missing"),
    ("domain_not_allowed", "oauth.domain_not_allowed"),
    ("user_info_failed", "oauth.user_info_failed"),
    ("save_account_failed", "oauth.account_save_failed"),
    ("background_flow_failed", "oauth.background_flow_failed"),
    ("channel_closed", "oauth.channel_error"),
    ("receiver dropped", "oauth.channel_error"),
)

#: HTTP status of a failure code when it is the error of a blocking call or submit-code
_STATUS = {
    "oauth.access_denied": 403,
    "oauth.domain_not_allowed": 403,
    "oauth.state_mismatch": 400,
    "oauth.state_missing": 400,
    "oauth.flow_not_active": 400,
    "oauth.not_configured": 400,
    "oauth.exchange_failed": 502,
    "oauth.user_info_failed": 502,
    "oauth.flow_expired": 408,
    "oauth.cancelled": 409,
}

_COUNTED = ("prepared", "callback_received", "exchanging_token", "linked", "rejected", "cancelled", "failed")


def failure_code(detail: str) -> str:
    """The failure code of a `failed` transition's detail."""
    for needle, code in _CODES:
        if needle in detail:
            return code
    return "oauth.unknown_failure"


def flow_error(code: str, message: str) -> GephyrError:
    """The typed error a blocking call or submit-code raises for a failure code."""
    return GephyrError(message, code=code, status=_STATUS.get(code, 500))


class FlowTracker:
    """Current phase plus history and process-lifetime counters (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.phase = "idle"
        self.detail: str | None = None
        self.account_email: str | None = None
        self.updated_at = int(time.time())
        self.events: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self.counters: dict[str, int] = {f"{p}_total": 0 for p in _COUNTED}
        self.failed_by_code: dict[str, int] = {}

    def record(
        self, phase: str, detail: str, email: str | None = None, code: str | None = None
    ) -> str | None:
        """Append an event; returns the failure code of a `failed` (or `rejected`) transition."""
        assert phase in PHASES, phase
        now = int(time.time())
        with self._lock:
            self.phase, self.detail, self.account_email, self.updated_at = phase, detail, email, now
            self.events.append(
                {"phase": phase, "detail": detail, "account_email": email, "updated_at_unix": now}
            )
            if f"{phase}_total" in self.counters:
                self.counters[f"{phase}_total"] += 1
            if phase == "rejected":
                return "oauth.access_denied"
            if phase != "failed":
                return None
            code = code or failure_code(detail)
            self.failed_by_code[code] = self.failed_by_code.get(code, 0) + 1
            return code

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "phase": self.phase,
                "detail": self.detail,
                "account_email": self.account_email,
                "updated_at_unix": self.updated_at,
                "recent_events": list(self.events),
                "counters": {**self.counters, "failed_by_code": dict(self.failed_by_code)},
            }
