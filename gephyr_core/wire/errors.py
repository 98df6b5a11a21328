"""Typed decode errors and error bodies in each client's language (protocols.md §6)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, Literal

from gephyr_core.wire.canonical import ClientFormat, ErrorInfo, Provider

ErrorKind = Literal[
    "invalid_request",
    "context_too_long",
    "authentication",
    "permission",
    "not_found",
    "too_large",
    "rate_limited",
    "quota_exhausted",
    "overloaded",
    "upstream_error",
    "unavailable",
    "timeout",
    "unsupported",
]


class WireError(Exception):
    """Bad or unsupported input found while converting; `unsupported` renders as a 400."""

    def __init__(self, kind: ErrorKind, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.param = param

    def info(self) -> ErrorInfo:
        kind = "invalid_request" if self.kind == "unsupported" else self.kind
        return ErrorInfo(kind, _STATUS.get(kind, 400), self.message)


def invalid(message: str, param: str | None = None) -> WireError:
    return WireError("invalid_request", message, param)


def unsupported(message: str, param: str | None = None) -> WireError:
    return WireError("unsupported", message, param)


Body = bytes | str | Mapping[str, Any] | list[Any] | None
"""An upstream error body: raw bytes or text, or already-parsed JSON."""

_STATUS = {
    "invalid_request": 400,
    "context_too_long": 400,
    "authentication": 401,
    "permission": 403,
    "not_found": 404,
    "too_large": 413,
    "rate_limited": 429,
    "quota_exhausted": 429,
    "overloaded": 503,
    "upstream_error": 502,
    "unavailable": 503,
    "timeout": 504,
}

# kind -> (OpenAI type, OpenAI code, Anthropic type, Gemini status)
_TABLE: dict[str, tuple[str, str | None, str, str]] = {
    "invalid_request": ("invalid_request_error", None, "invalid_request_error", "INVALID_ARGUMENT"),
    "context_too_long": (
        "invalid_request_error",
        "context_length_exceeded",
        "invalid_request_error",
        "INVALID_ARGUMENT",
    ),
    "authentication": (
        "authentication_error",
        "invalid_api_key",
        "authentication_error",
        "UNAUTHENTICATED",
    ),
    "permission": ("permission_error", None, "permission_error", "PERMISSION_DENIED"),
    "not_found": ("not_found_error", "model_not_found", "not_found_error", "NOT_FOUND"),
    "too_large": (
        "invalid_request_error",
        "request_too_large",
        "request_too_large",
        "INVALID_ARGUMENT",
    ),
    "rate_limited": (
        "rate_limit_error",
        "rate_limit_exceeded",
        "rate_limit_error",
        "RESOURCE_EXHAUSTED",
    ),
    "quota_exhausted": (
        "rate_limit_error",
        "insufficient_quota",
        "rate_limit_error",
        "RESOURCE_EXHAUSTED",
    ),
    "overloaded": ("server_error", "overloaded", "overloaded_error", "UNAVAILABLE"),
    "upstream_error": ("server_error", "upstream_error", "api_error", "INTERNAL"),
    "unavailable": ("server_error", "no_account_available", "api_error", "UNAVAILABLE"),
    "timeout": ("server_error", "timeout", "timeout_error", "DEADLINE_EXCEEDED"),
}


def error_status(error: ErrorInfo, fmt: ClientFormat) -> int:
    """The HTTP status a client of `fmt` sees for `error` (529 overloaded for Anthropic)."""
    kind = error.kind if error.kind in _TABLE else "upstream_error"
    if kind == "overloaded":
        return 529 if fmt == "anthropic" else 503
    if kind == "upstream_error":
        status = 500 if error.status == 500 else 502
        return 500 if fmt == "gemini" else status
    return _STATUS[kind]


def render_error(
    error: ErrorInfo, fmt: ClientFormat, request_id: str | None = None
) -> tuple[int, dict[str, Any]]:
    """(status, body) for a pre-stream failure in the client's error shape."""
    kind = error.kind if error.kind in _TABLE else "upstream_error"
    oa_type, oa_code, an_type, gm_status = _TABLE[kind]
    status = error_status(error, fmt)
    if fmt == "anthropic":
        body: dict[str, Any] = {
            "type": "error",
            "error": {"type": an_type, "message": error.message},
        }
        if request_id is not None:
            body["request_id"] = request_id
        return status, body
    if fmt == "gemini":
        inner: dict[str, Any] = {"code": status, "message": error.message, "status": gm_status}
        if error.retry_after is not None and status == 429:
            inner["details"] = [retry_info(error.retry_after)]
        return status, {"error": inner}
    code = error.code if kind == "unavailable" and error.code else oa_code
    return status, {
        "error": {"message": error.message, "type": oa_type, "param": None, "code": code}
    }


def retry_info(seconds: float) -> dict[str, str]:
    """Gemini `RetryInfo` detail for a delay."""
    text = f"{seconds:g}s"
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": text}


def retry_after_headers(seconds: float, fmt: ClientFormat) -> dict[str, str]:
    """`retry-after: ⌈s⌉` for everyone, `retry-after-ms` for OpenAI and Anthropic clients."""
    headers = {"retry-after": str(math.ceil(seconds))}
    if fmt != "gemini":
        headers["retry-after-ms"] = str(math.ceil(seconds * 1000))
    return headers


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(text: str) -> float | None:
    """`"30s"`, `"1.5s"`, `"1h2m3.5s"`, `"200ms"` → seconds; anything else → None."""
    text = text.strip()
    if not text or _DURATION.sub("", text):
        return None
    unit = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(n) * unit[u] for n, u in _DURATION.findall(text))


def _body_object(body: Body) -> tuple[Mapping[str, Any], str]:
    if body is None:
        return {}, ""
    if isinstance(body, list):
        body = body[0] if body and isinstance(body[0], Mapping) else {}
    if isinstance(body, Mapping):
        return body, json.dumps(body)
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        value = json.loads(text)
    except ValueError:
        return {}, text
    if isinstance(value, list) and value and isinstance(value[0], Mapping):
        value = value[0]  # Gemini sometimes wraps errors in an array
    return (value if isinstance(value, Mapping) else {}), text


def upstream_message(body: Body) -> str:
    """The provider's own error message, or the raw text when there is no JSON message."""
    obj, text = _body_object(body)
    err = obj.get("error")
    if isinstance(err, Mapping) and isinstance(err.get("message"), str):
        return str(err["message"])
    if isinstance(err, str):
        return err
    if isinstance(obj.get("message"), str):
        return str(obj["message"])
    return text.strip()[:2000]


def _retry_from_body(obj: Mapping[str, Any]) -> float | None:
    err = obj.get("error")
    if not isinstance(err, Mapping):
        return None
    for detail in err.get("details") or []:
        if not isinstance(detail, Mapping):
            continue
        for value in (
            detail.get("retryDelay"),
            (detail.get("metadata") or {}).get("quotaResetDelay"),
        ):
            if isinstance(value, str) and (seconds := parse_duration(value)) is not None:
                return seconds
    value = err.get("retry_after")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


_KIND_BY_STATUS = {
    401: "authentication",
    403: "permission",
    404: "not_found",
    413: "too_large",
    504: "timeout",
}


def _kind_of(provider: Provider, status: int, lower: str) -> str:
    if status == 400:
        long_ctx = "prompt is too long" in lower or "context_length_exceeded" in lower
        return "context_too_long" if long_ctx else "invalid_request"
    if status in _KIND_BY_STATUS:
        return _KIND_BY_STATUS[status]
    if status == 429:
        quota = "insufficient_quota" in lower or "quota_exhausted" in lower or "perday" in lower
        return "quota_exhausted" if quota else "rate_limited"
    if status == 529 or (status == 503 and ("overloaded" in lower or "capacity" in lower)):
        return "overloaded"
    if status == 503:
        return "overloaded" if provider == "gemini" else "unavailable"
    return "invalid_request" if 400 <= status < 500 else "upstream_error"


def classify_upstream_error(provider: Provider, status: int, body: Body) -> ErrorInfo:
    """Kind, status, message and retry hint of an upstream HTTP failure (before the first byte)."""
    obj, text = _body_object(body)
    message = upstream_message(body) or f"upstream returned HTTP {status}"
    retry = _retry_from_body(obj)
    kind = _kind_of(provider, status, text.lower())
    code = "service_disabled" if kind == "unavailable" else None
    return ErrorInfo(kind, status, message, retry, code)


def is_signature_error(status: int, body: Body) -> bool:
    """An upstream 400 about a thinking signature, retried once without thinking (§4.7)."""
    if status != 400:
        return False
    text = upstream_message(body).lower()
    return "signature" in text and ("thinking" in text or "thought" in text)
