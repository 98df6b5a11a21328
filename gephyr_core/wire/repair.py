"""The repair path (protocols.md §1.3): same-format bodies carrying `gph1.` carriers.

The raw JSON is edited in place of a full translation: a carrier minted by the account's
provider becomes its native value, any other is removed with its block (a gemini
`functionCall` keeps the bypass signature instead); toward anthropic the thinking rules of
§4.7 then apply. Everything else stays as the client sent it.
"""

from __future__ import annotations

import copy
from typing import Any

from gephyr_core.wire import carrier
from gephyr_core.wire.canonical import Provider
from gephyr_core.wire.ids import GEMINI_BYPASS_SIGNATURE

CARRIER_MARK = '"gph1.'


def needs_repair(raw: bytes) -> bool:
    """True when the raw body holds a carrier (the fast path is then not taken)."""
    return CARRIER_MARK.encode() in raw


def _native(value: str, provider: Provider) -> list[str]:
    """Native signatures a carrier holds for `provider`; empty when minted elsewhere."""
    parts = carrier.decode_carrier(value) or []
    return [p.signature.value for p in parts if p.signature and p.signature.provider == provider]


def _repair_block(block: dict[str, Any]) -> list[dict[str, Any]]:
    key = "signature" if block.get("type") == "thinking" else "data"
    value = block.get(key)
    if not carrier.is_carrier(value):
        return [block]
    parts = carrier.decode_carrier(str(value)) or []
    out: list[dict[str, Any]] = []
    for part in parts:
        if part.signature is None or part.signature.provider != "anthropic":
            continue
        if part.redacted:
            out.append({"type": "redacted_thinking", "data": part.signature.value})
        else:
            sig = part.signature.value
            out.append({"type": "thinking", "thinking": part.text, "signature": sig})
    return out


def _thinking_on(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _leading_thinking(content: Any) -> bool:
    return (
        bool(content)
        and isinstance(content, list)
        and content[0].get("type")
        in (
            "thinking",
            "redacted_thinking",
        )
    )


_THINKING_BLOCKS = ("thinking", "redacted_thinking")


def _is_thinking(block: object) -> bool:
    return isinstance(block, dict) and block.get("type") in _THINKING_BLOCKS


def _thinking_stays_on(out: dict[str, Any], messages: list[dict[str, Any]]) -> bool:
    """Rules (b) and (c): a forced tool choice or an unsigned tool loop turns thinking off."""
    if not _thinking_on(out):
        return False
    choice = out.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
        return False
    last = next((m for m in reversed(messages) if m.get("role") == "assistant"), None)
    content = last.get("content") if last else None
    if not isinstance(content, list):
        return True
    uses_tool = any(isinstance(b, dict) and b.get("type") == "tool_use" for b in content)
    return not uses_tool or _leading_thinking(content)


def repair_anthropic(body: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic Messages body for an anthropic account, carriers resolved, §4.7 applied."""
    out = copy.deepcopy(body)
    messages = [m for m in out.get("messages") or [] if isinstance(m, dict)]
    for message in messages:
        if isinstance(message.get("content"), list):
            message["content"] = [
                kept
                for block in message["content"]
                for kept in (_repair_block(block) if _is_thinking(block) else [block])
            ]
    if not _thinking_stays_on(out, messages):
        if _thinking_on(out):
            out.pop("thinking")
        for message in messages:
            if isinstance(message.get("content"), list):
                message["content"] = [b for b in message["content"] if not _is_thinking(b)]
        return out
    for key in ("temperature", "top_k"):
        out.pop(key, None)
    if isinstance(out.get("top_p"), int | float) and out["top_p"] < 0.95:
        out.pop("top_p")
    return out


def repair_chat(body: dict[str, Any]) -> dict[str, Any]:
    """A chat body for an openai account: carried thinking becomes `reasoning_content` or goes."""
    out = copy.deepcopy(body)
    for message in out.get("messages") or []:
        if not isinstance(message, dict):
            continue
        blocks = message.get("thinking_blocks")
        if isinstance(blocks, list):
            kept = []
            for block in blocks:
                value = (
                    block.get("signature") or block.get("data") if isinstance(block, dict) else None
                )
                if not carrier.is_carrier(value):
                    kept.append(block)
                    continue
                texts = [
                    p.text for p in carrier.decode_carrier(str(value)) or [] if p.origin == "openai"
                ]
                if texts and not message.get("reasoning_content"):
                    message["reasoning_content"] = "".join(texts)
            message["thinking_blocks"] = kept
            if not kept:
                message.pop("thinking_blocks")
        for call in message.get("tool_calls") or []:
            google = (
                ((call.get("extra_content") or {}).get("google"))
                if isinstance(call, dict)
                else None
            )
            if isinstance(google, dict) and carrier.is_carrier(google.get("thought_signature")):
                google.pop("thought_signature")
    return out


def repair_gemini(body: dict[str, Any]) -> dict[str, Any]:
    """A gemini body for a gemini account: `g` carriers become native, others go (calls: bypass)."""
    out = copy.deepcopy(body)
    for content in out.get("contents") or []:
        for part in content.get("parts") or [] if isinstance(content, dict) else []:
            if not isinstance(part, dict):
                continue
            key = "thoughtSignature" if "thoughtSignature" in part else "thought_signature"
            value = part.get(key)
            if not carrier.is_carrier(value):
                continue
            native = _native(str(value), "gemini")
            if native:
                part[key] = native[0]
            elif "functionCall" in part or "function_call" in part:
                part[key] = GEMINI_BYPASS_SIGNATURE
            else:
                part.pop(key)
    return out
