"""Session ids (routing.md §5): headers, then body fields, then a content hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

HEADERS = ("x-session-id", "x-client-session-id", "x-gephyr-session-id", "x-conversation-id", "x-thread-id")
BODY_FIELDS = (
    "session_id",
    "sessionId",
    "conversation_id",
    "conversationId",
    "thread_id",
    "threadId",
    "prompt_cache_key",
)
METADATA_FIELDS = ("session_id", "sessionId", "user_id", "userId")


@dataclass(frozen=True)
class SessionId:
    """A session id and where it came from: `header`, `body`, `content_hash` or `none`."""

    value: str | None
    source: str


def _explicit(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if len(text) > 256:
        return "sid-explicit-" + hashlib.sha256(text.encode()).hexdigest()[:16]
    return text


def _from_body(fmt: str, body: Mapping[str, Any]) -> str | None:
    metadata = body.get("metadata")
    meta = metadata if isinstance(metadata, Mapping) else {}
    if fmt == "anthropic":
        user = _explicit(meta.get("user_id"))
        return user if user and "session-" not in user else None
    for name in BODY_FIELDS:
        found = _explicit(body.get(name))
        if found:
            return found
    for name in METADATA_FIELDS:
        found = _explicit(meta.get(name))
        if found:
            return found
    return None


def _texts(content: Any) -> str:
    if isinstance(content, str):
        return content
    out = []
    for part in content if isinstance(content, list) else []:
        if isinstance(part, Mapping) and isinstance(part.get("text"), str):
            out.append(part["text"])
        elif isinstance(part, str):
            out.append(part)
    return " ".join(out)


def _messages(fmt: str, body: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(role, content) pairs in the client's own format."""
    if fmt == "gemini":
        items = body.get("contents") or []
        return [(str(c.get("role") or "user"), c.get("parts")) for c in items if isinstance(c, Mapping)]
    if fmt == "responses":
        items = body.get("input")
        if isinstance(items, str):
            return [("user", items)]
        return [(str(i.get("role") or ""), i.get("content")) for i in items or [] if isinstance(i, Mapping)]
    if fmt == "completions":
        return [("user", body.get("prompt"))]
    items = body.get("messages") or []
    return [(str(m.get("role") or ""), m.get("content")) for m in items if isinstance(m, Mapping)]


def _hash(text: str) -> str:
    return "sid-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def session_id(fmt: str, headers: Mapping[str, str], body: Mapping[str, Any], raw: bytes) -> SessionId:
    """The sticky key of a request, first non-empty source winning."""
    for name in HEADERS:
        found = _explicit(headers.get(name))
        if found:
            return SessionId(found, "header")
    found = _from_body(fmt, body)
    if found:
        return SessionId(found, "body")
    messages = _messages(fmt, body)
    for role, content in messages:
        text = _texts(content).strip()
        if role == "user" and len(text) > 10 and "<system-reminder>" not in text:
            return SessionId(_hash(text), "content_hash")
    if messages:
        last = json.dumps(messages[-1][1], sort_keys=True, separators=(",", ":"), default=str)
        return SessionId(_hash(last), "content_hash")
    return (
        SessionId(_hash(raw.decode("utf-8", "replace")), "content_hash") if raw else SessionId(None, "none")
    )
