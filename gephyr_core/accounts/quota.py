"""Quota snapshots (accounts.md §9): rate-limit headers and 429 bodies → QuotaData, protection.

A dimension is `(limit, remaining, reset)` with any part unknown (None). QuotaModel reports
the requests and tokens dimensions; every known dimension (Anthropic's input and output
tokens too) counts for `percentage` and `reset_time`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from gephyr_core.globs import matches_any
from gephyr_core.relay.routes import normalise_model
from gephyr_core.wire.errors import parse_duration

Dim = tuple[int | None, int | None, int | None]
SOURCES = ("headers", "error_body", "probe")
_ANTHROPIC_DIMS = ("requests", "tokens", "input-tokens", "output-tokens")


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


def _reset_after(text: str | None, now: float) -> int | None:
    seconds = parse_duration(text) if text else None
    return None if seconds is None else math.ceil(now + seconds)


def _reset_at(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return math.ceil(datetime.fromisoformat(text.strip().replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def openai_dims(headers: Mapping[str, str], now: float) -> dict[str, Dim]:
    """`x-ratelimit-{limit,remaining,reset}-{requests,tokens}`; resets are durations."""
    out: dict[str, Dim] = {}
    for dim in ("requests", "tokens"):
        limit = _int(headers.get(f"x-ratelimit-limit-{dim}"))
        remaining = _int(headers.get(f"x-ratelimit-remaining-{dim}"))
        if limit is not None or remaining is not None:
            out[dim] = (limit, remaining, _reset_after(headers.get(f"x-ratelimit-reset-{dim}"), now))
    return out


def anthropic_dims(headers: Mapping[str, str]) -> dict[str, Dim]:
    """`anthropic-ratelimit-{dim}-{limit,remaining,reset}`; resets are RFC 3339."""
    out: dict[str, Dim] = {}
    for dim in _ANTHROPIC_DIMS:
        limit = _int(headers.get(f"anthropic-ratelimit-{dim}-limit"))
        remaining = _int(headers.get(f"anthropic-ratelimit-{dim}-remaining"))
        if limit is not None or remaining is not None:
            out[dim] = (limit, remaining, _reset_at(headers.get(f"anthropic-ratelimit-{dim}-reset")))
    return out


def _ratio(dim: Dim) -> float | None:
    limit, remaining, _ = dim
    if remaining == 0:
        return 0.0  # exhausted, even when the limit is unknown (insufficient_quota)
    if limit and limit > 0 and remaining is not None:
        return max(0.0, min(1.0, remaining / limit))
    return None


def quota_model(name: str, dims: Mapping[str, Dim]) -> dict[str, Any]:
    """One QuotaModel from the dimensions known for a model."""
    ratios = [r for r in (_ratio(d) for d in dims.values()) if r is not None]
    exhausted = [d[2] for d in dims.values() if d[1] == 0 and d[2] is not None]
    resets = [d[2] for d in dims.values() if d[2] is not None]
    req = dims.get("requests", (None, None, None))
    tok = dims.get("tokens", (None, None, None))
    return {
        "name": name,
        "percentage": math.floor(100 * min(ratios)) if ratios else None,
        "remaining_requests": req[1],
        "limit_requests": req[0],
        "remaining_tokens": tok[1],
        "limit_tokens": tok[0],
        "reset_time": min(exhausted) if exhausted else (min(resets) if resets else None),
    }


def quota_data(models: Iterable[dict[str, Any]], source: str, *, forbidden: bool = False) -> dict[str, Any]:
    """A QuotaData document stamped now."""
    return {
        "models": list(models),
        "last_updated": int(time.time()),
        "is_forbidden": forbidden,
        "source": source,
    }


def from_headers(
    provider: str, headers: Mapping[str, str], model: str, now: float | None = None
) -> dict[str, Any] | None:
    """QuotaModel for the call's model from response headers (lower-case names), or None."""
    now = time.time() if now is None else now
    lower = {k.lower(): v for k, v in headers.items()}
    dims = openai_dims(lower, now) if provider == "openai" else anthropic_dims(lower)
    if provider == "gemini" or not dims:
        return None
    return quota_model(normalise_model(model), dims)


def _json(body: bytes | str | Mapping[str, Any]) -> Any:
    if isinstance(body, Mapping):
        return body
    try:
        return json.loads(body)
    except (ValueError, TypeError):
        return None


def _gemini_quota(err: Mapping[str, Any], model: str, now: float) -> list[dict[str, Any]]:
    details = [d for d in err.get("details") or [] if isinstance(d, Mapping)]
    reset = None
    for d in details:
        if str(d.get("@type", "")).endswith("google.rpc.RetryInfo"):
            reset = _reset_after(str(d.get("retryDelay") or ""), now)
    per_model: dict[str, dict[str, Dim]] = {}
    for d in details:
        if not str(d.get("@type", "")).endswith("google.rpc.QuotaFailure"):
            continue
        for v in d.get("violations") or []:
            if not isinstance(v, Mapping):
                continue
            dims = v.get("quotaDimensions")
            name = normalise_model(str((dims if isinstance(dims, Mapping) else {}).get("model") or model))
            kind = "tokens" if "token" in str(v.get("quotaId", "")).lower() else "requests"
            per_model.setdefault(name, {})[kind] = (_int(str(v.get("quotaValue", ""))), 0, reset)
    if not per_model and reset is not None:
        per_model[normalise_model(model)] = {"requests": (None, 0, reset)}
    return [quota_model(name, dims) for name, dims in per_model.items()]


def from_error_body(
    provider: str, status: int, body: bytes | str | Mapping[str, Any], model: str, now: float | None = None
) -> list[dict[str, Any]]:
    """QuotaModels from a 429 body: Gemini QuotaFailure/RetryInfo, OpenAI insufficient_quota."""
    now = time.time() if now is None else now
    doc = _json(body)
    if isinstance(doc, list) and doc:
        doc = doc[0]  # Gemini sometimes wraps errors in an array
    err = doc.get("error") if isinstance(doc, Mapping) else None
    if status != 429 or not isinstance(err, Mapping):
        return []
    if provider == "gemini":
        return _gemini_quota(err, model, now)
    if provider == "openai" and err.get("code") == "insufficient_quota":
        return [quota_model(normalise_model(model), {"requests": (None, 0, None)})]
    return []


def merge(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """The new snapshot with the old one's entries for models it does not mention."""
    fresh = {m["name"] for m in new["models"]}
    kept = [m for m in (old or {}).get("models") or [] if m.get("name") not in fresh]
    return {**new, "models": [*new["models"], *kept]}


def protect(
    protected: Iterable[str], snapshot: Mapping[str, Any], threshold: int, monitored: list[str]
) -> list[str]:
    """`protected_models` after a snapshot (§9.4): ≤ threshold adds, above removes, unknown keeps."""
    out = list(dict.fromkeys(protected))
    for entry in snapshot.get("models") or []:
        name, pct = entry.get("name"), entry.get("percentage")
        if not name or pct is None or (monitored and not matches_any(monitored, name)):
            continue
        if pct <= threshold and name not in out:
            out.append(name)
        elif pct > threshold and name in out:
            out.remove(name)
    return out
