"""One finished request as the edge saw it, and its rows (built in the writer thread)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from gephyr_core.monitor.bodies import Bodies
from gephyr_core.wire import Usage

_SECRET_PARAMS = {"key", "api_key", "token"}
_GEMINI = re.compile(r"^/v1beta/models/(?P<model>[^:]+):(?P<action>\w+)$")
_GEMINI_ROUTES = {
    "generateContent": "generate",
    "streamGenerateContent": "stream_generate",
    "countTokens": "count_tokens",
}
_ROUTES = {
    "/v1/chat/completions": ("openai", "chat"),
    "/v1/completions": ("openai", "completions"),
    "/v1/responses": ("openai", "responses"),
    "/v1/messages": ("anthropic", "messages"),
    "/v1/messages/count_tokens": ("anthropic", "count_tokens"),
    "/v1/models/detect": ("openai", "detect"),
}
ERROR_CHARS = 2000


@dataclass(slots=True)
class Record:
    """Filled at the edge (and by the relay for relayed calls); turned into rows by the writer."""

    started: float
    method: str
    path: str
    query: str
    state: dict[str, Any]
    status: int = 0
    ttfb_ms: int | None = None
    duration_ms: int = 0
    mapped_model: str | None = None
    trace: dict[str, Any] | None = None
    usage: Usage | None = None
    usage_of: Callable[[], Usage] | None = None
    error_body: bytes = b""
    interrupted: bool = False
    interrupt_reason: str | None = None  # set by the relay (capture.mark_interrupted)
    stream: bool = False
    logged: bool = True  # monitor.enabled when the request began
    bodies: Bodies | None = None  # only when monitor.capture_bodies is on


def redact_url(path: str, query: str) -> str:
    """Path + query with the values of key / api_key / token replaced."""
    if not query:
        return path
    pairs = [
        (k, "[redacted]" if k.lower() in _SECRET_PARAMS else v)
        for k, v in parse_qsl(query, keep_blank_values=True)
    ]
    return f"{path}?{urlencode(pairs, safe='[]')}"


def classify(path: str) -> tuple[str | None, str | None, str | None]:
    """(protocol, route, model from the path) of a public path."""
    known = _ROUTES.get(path)
    if known is not None:
        return known[0], known[1], None
    match = _GEMINI.match(path)
    if match:
        return "gemini", _GEMINI_ROUTES.get(match["action"]), match["model"].removeprefix("models/")
    if path.startswith("/v1beta/models"):
        return "gemini", "models", None
    if path.startswith("/v1/models"):
        return "openai", "models", None
    return None, None, None


def error_message(body: bytes) -> str | None:
    """The message of an error body in any of the three shapes, else the text itself."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body.decode("utf-8", "replace").strip()
        return text[:ERROR_CHARS] or None
    if isinstance(data, list) and data:
        data = data[0]
    err = data.get("error") if isinstance(data, dict) else None
    message = err.get("message") if isinstance(err, dict) else err
    text = str(message if message is not None else data)
    return text[:ERROR_CHARS]


def _account(accounts: Mapping[str, dict[str, Any]], trace: dict[str, Any] | None) -> dict[str, Any]:
    """The account that answered: the last attempt of the trace."""
    attempts = (trace or {}).get("attempts") or []
    if not attempts:
        return {}
    return accounts.get(attempts[-1]["account_id"]) or {"id": attempts[-1]["account_id"]}


def _error(rec: Record) -> str | None:
    """`stream_interrupted: …` for a broken stream (status kept), else the error of a status ≥ 400."""
    if rec.interrupted:
        if rec.status == 499:
            return "stream_interrupted: the client left before the end"
        return f"stream_interrupted: {rec.interrupt_reason or 'the response ended early'}"[:ERROR_CHARS]
    if rec.status >= 400:
        return error_message(rec.error_body)
    return None


def to_rows(
    rec: Record, accounts: Mapping[str, dict[str, Any]]
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(request_logs row or None when logging was off, token_usage row or None)."""
    state = rec.state
    account = _account(accounts, rec.trace)
    usage = rec.usage or Usage()
    protocol, route, path_model = classify(rec.path)
    principal = state.get("principal")
    token = principal if isinstance(principal, Mapping) else {}
    email = account.get("email") or account.get("label")
    model = path_model or (state.get("model") if isinstance(state.get("model"), str) else None)
    mapped = rec.mapped_model or (rec.trace or {}).get("model")
    usage_row = None
    if account.get("id") and (usage.input_total or usage.output_total):
        usage_row = {
            "timestamp": rec.started,
            "account_id": account["id"],
            "account_email": email,
            "provider": account.get("provider"),
            "model": mapped or model or "",
            "input_tokens": usage.input_total,
            "output_tokens": usage.output_total,
            "total_tokens": usage.total,
            "user_token_id": token.get("id"),
        }
    if not rec.logged:
        return None, usage_row
    request_body = response_body = None
    if rec.bodies is not None:
        streamed = rec.stream or rec.path.endswith(":streamGenerateContent")
        request_body, response_body = rec.bodies.render(protocol, route, streamed, usage)
    log = {
        "id": str(uuid.uuid4()),
        "timestamp": rec.started,
        "method": rec.method,
        "url": redact_url(rec.path, rec.query),
        "status": rec.status,
        "duration": rec.duration_ms,
        "ttfb_ms": rec.ttfb_ms,
        "protocol": protocol,
        "route": route,
        "model": model,
        "mapped_model": mapped,
        "provider": account.get("provider"),
        "account_id": account.get("id"),
        "account_email": email,
        "attempts": len((rec.trace or {}).get("attempts") or []),
        "stream": int(rec.stream or rec.path.endswith(":streamGenerateContent")),
        "client_ip": state.get("client_ip"),
        "request_id": state.get("request_id"),
        "correlation_id": state.get("correlation_id"),
        "user_token_id": token.get("id"),
        "username": token.get("username"),
        "input_tokens": usage.input_total,
        "output_tokens": usage.output_total,
        "cached_tokens": usage.cache_read,
        "thinking_tokens": usage.reasoning,
        "error": _error(rec),
        "trace": json.dumps(rec.trace) if rec.trace is not None else None,
        "request_body": request_body,
        "response_body": response_body,
    }
    return log, usage_row
