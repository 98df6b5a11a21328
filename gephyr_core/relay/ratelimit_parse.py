"""Reading an upstream failure: its rate-limit reason and how long to back off (routing.md §6)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from gephyr_core.wire.errors import parse_duration

LIMITED_STATUSES = frozenset({429, 500, 502, 503, 504, 529})
_MIN_DELAY, _MAX_DELAY = 2.0, 86400.0
_TEXT_DELAYS = (
    re.compile(r"try again in (?:(\d+)m)?(\d+(?:\.\d+)?)s", re.I),
    re.compile(r"try again in (\d+(?:\.\d+)?) ?(seconds?|ms)", re.I),
    re.compile(r"retry after (\d+(?:\.\d+)?) ?seconds?", re.I),
    re.compile(r"backoff for (\d+(?:\.\d+)?)s", re.I),
    re.compile(r"wait (\d+(?:\.\d+)?)s", re.I),
    re.compile(r"quota will reset in (\d+(?:\.\d+)?) ?seconds?", re.I),
)


def _json(body: bytes | str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, TypeError):
        return None


def _error(obj: Any) -> Mapping[str, Any]:
    if isinstance(obj, list) and obj:
        obj = obj[0]
    err = obj.get("error") if isinstance(obj, Mapping) else None
    return err if isinstance(err, Mapping) else {}


def _details(err: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    details = err.get("details")
    return [d for d in details if isinstance(d, Mapping)] if isinstance(details, list) else []


def reason_of(status: int, body: bytes | str) -> str | None:
    """QUOTA_EXHAUSTED, RATE_LIMIT_EXCEEDED, MODEL_CAPACITY_EXHAUSTED, SERVER_ERROR, UNKNOWN or None."""
    if status not in LIMITED_STATUSES:
        return None
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    lower = text.lower()
    if status == 529:
        return "MODEL_CAPACITY_EXHAUSTED"
    if status == 503:
        capacity = any(k in lower for k in ("capacity", "overloaded", "model_capacity"))
        return "MODEL_CAPACITY_EXHAUSTED" if capacity else "SERVER_ERROR"
    if status != 429:
        return "SERVER_ERROR"
    return _reason_429(_error(_json(text)), lower)


def _gemini_reason(err: Mapping[str, Any]) -> str | None:
    for detail in _details(err):
        reason = detail.get("reason")
        if reason in ("QUOTA_EXHAUSTED", "RATE_LIMIT_EXCEEDED", "MODEL_CAPACITY_EXHAUSTED"):
            return str(reason)
        for violation in detail.get("violations") or []:
            quota = str(violation.get("quotaId", "")) if isinstance(violation, Mapping) else ""
            if "PerDay" in quota:
                return "QUOTA_EXHAUSTED"
            if "PerMinute" in quota:
                return "RATE_LIMIT_EXCEEDED"
    return None


def _reason_429(err: Mapping[str, Any], lower: str) -> str:
    gemini = _gemini_reason(err)
    if gemini is not None:
        return gemini
    code = f"{err.get('code', '')} {err.get('type', '')}".lower()
    if "insufficient_quota" in code:
        return "QUOTA_EXHAUSTED"
    if "rate_limit" in code:
        return "RATE_LIMIT_EXCEEDED"
    if any(k in lower for k in ("per minute", "rate limit", "too many requests")):
        return "RATE_LIMIT_EXCEEDED"
    if "exhausted" in lower or "quota" in lower:
        return "QUOTA_EXHAUSTED"
    if "capacity" in lower or "overloaded" in lower:
        return "MODEL_CAPACITY_EXHAUSTED"
    return "UNKNOWN"


def _header_delay(headers: Mapping[str, str], now: float) -> float | None:
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    after = headers.get("retry-after")
    if not after:
        return None
    try:
        return float(after)
    except ValueError:
        try:
            return parsedate_to_datetime(after).timestamp() - now
        except (TypeError, ValueError):
            return None


def _body_delay(err: Mapping[str, Any]) -> float | None:
    for detail in _details(err):
        for value in (detail.get("retryDelay"), (detail.get("metadata") or {}).get("quotaResetDelay")):
            if isinstance(value, str) and parse_duration(value) is not None:
                return parse_duration(value)
    after = err.get("retry_after")
    return float(after) if isinstance(after, int | float) else None


def _reset_header_delay(headers: Mapping[str, str]) -> float | None:
    for dim in ("requests", "tokens"):
        if headers.get(f"x-ratelimit-remaining-{dim}") == "0":
            value = parse_duration(headers.get(f"x-ratelimit-reset-{dim}", ""))
            if value is not None:
                return value
    return None


def _text_delay(text: str) -> float | None:
    for pattern in _TEXT_DELAYS:
        match = pattern.search(text)
        if not match:
            continue
        groups = match.groups()
        if pattern is _TEXT_DELAYS[0]:
            return int(groups[0] or 0) * 60 + float(groups[1])
        value = float(groups[0])
        return value / 1000 if len(groups) > 1 and groups[1] == "ms" else value
    return None


def hinted_delay(status: int, headers: Mapping[str, str], body: bytes | str, now: float) -> float | None:
    """A delay the upstream asked for (sources 1–4), clamped to [2 s, 24 h]; None if none."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    err = _error(_json(text))
    for found in (
        _header_delay(headers, now),
        _body_delay(err),
        _reset_header_delay(headers),
        _text_delay(text),
    ):
        if found is not None:
            return min(max(math.ceil(found * 1000) / 1000, _MIN_DELAY), _MAX_DELAY)
    return None


def default_delay(reason: str, failures: int, backoff_steps: list[int]) -> float:
    """Source 6: the ladders by reason (failures counts this one)."""
    if reason == "QUOTA_EXHAUSTED":
        steps = backoff_steps or [60]
        return float(steps[min(max(failures, 1), len(steps)) - 1])
    if reason == "RATE_LIMIT_EXCEEDED":
        return 5.0
    if reason == "MODEL_CAPACITY_EXHAUSTED":
        return float((5, 10, 15)[min(max(failures, 1), 3) - 1])
    if reason == "SERVER_ERROR":
        return 8.0
    return 60.0
