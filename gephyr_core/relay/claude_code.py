"""Claude Code traffic features (routing.md §11): warmup interception, background-task routing.

Both run on the Anthropic Messages route before routing, each behind its config flag.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

BACKGROUND_MODEL = "internal-background-task"


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    out = []
    for block in content if isinstance(content, list) else []:
        if isinstance(block, Mapping) and block.get("type") == "text" and isinstance(block.get("text"), str):
            out.append(block["text"])
    return out


def is_warmup(body: Mapping[str, Any]) -> bool:
    """A Claude Code warmup probe: nothing worth an upstream call."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[-1], Mapping):
        return False
    content = messages[-1].get("content")
    joined = "".join(_texts(content))
    if joined.startswith("Warmup") and len(joined) < 100:
        return True
    if any(t == "Warmup" or t.startswith("Warmup\n") for t in _texts(content)):
        return True
    for block in content if isinstance(content, list) else []:
        if isinstance(block, Mapping) and block.get("type") == "tool_result" and block.get("is_error"):
            if "".join(_texts(block.get("content"))).startswith("Warmup"):
                return True
    return False


def warmup_reply(model: str, stream: bool) -> tuple[bytes, str]:
    """(body, media type) of the intercepted answer: text `OK`, 1/1 usage, end_turn."""
    msg_id = f"msg_warmup_{int(time.time() * 1000)}"
    usage = {"input_tokens": 1, "output_tokens": 1}
    if not stream:
        body = {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "OK"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
        return json.dumps(body, separators=(",", ":")).encode(), "application/json"
    events: Sequence[dict[str, Any]] = (
        {
            "type": "message_start",
            "message": {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 1, "output_tokens": 0},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "OK"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 1},
        },
        {"type": "message_stop"},
    )
    frames = b"".join(
        f"event: {e['type']}\ndata: {json.dumps(e, separators=(',', ':'))}\n\n".encode() for e in events
    )
    return frames, "text/event-stream"


def _newest_user_text(messages: list[Any]) -> str | None:
    for message in reversed(messages):
        if not isinstance(message, Mapping) or message.get("role") != "user":
            continue
        for text in reversed(_texts(message.get("content"))):
            stripped = text.strip()
            if (
                stripped
                and not stripped.startswith("Warmup")
                and not stripped.startswith("<system-reminder>")
            ):
                return stripped
    return None


def background_rewrite(
    body: Mapping[str, Any], keywords: Sequence[str], mapping: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The rewritten body of a background task when one is detected and mapped, else None."""
    messages = body.get("messages")
    if BACKGROUND_MODEL not in mapping or not isinstance(messages, list):
        return None
    text = _newest_user_text(messages)
    if text is None or len(text) > 800:
        return None
    head = text[:500].lower()
    if not any(k and k.lower() in head for k in keywords):
        return None
    last_user = next(m for m in reversed(messages) if isinstance(m, Mapping) and m.get("role") == "user")
    out = {k: v for k, v in body.items() if k not in ("tools", "tool_choice", "thinking", "messages")}
    out["model"] = BACKGROUND_MODEL
    # Only the turn's text survives: its tool results would lack the calls they answer.
    turn = "\n".join(_texts(last_user.get("content"))) or text
    out["messages"] = [{"role": "user", "content": turn}]
    return out
