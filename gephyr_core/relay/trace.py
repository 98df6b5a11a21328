"""The decision trace of one request (routing.md §7.4): small, cheap, stored with the log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Trace:
    request_id: str = ""
    session_id: str | None = None
    session_source: str = "none"
    model: str = ""
    candidates: list[str] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    candidate_count: int = 0  # `candidates` names at most the first 32
    skipped_total: int = 0  # `skipped` names at most 16

    def skip(self, account_id: str, reason: str, **detail: Any) -> None:
        self.skipped.append({"account_id": account_id, "reason": reason, **detail})

    def attempt(self, account_id: str, step: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"account_id": account_id, "step": step, "status": None, "outcome": None}
        self.attempts.append(entry)
        return entry

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "session_id": self.session_id,
            "session_source": self.session_source,
            "model": self.model,
            "candidates": self.candidates,
            "candidate_count": self.candidate_count,
            "skipped": self.skipped,
            "skipped_total": max(self.skipped_total, len(self.skipped)),
            "attempts": self.attempts,
        }
