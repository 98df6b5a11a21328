"""Repair path for same-format carriers (§1.3) and count_tokens bodies (§7)."""

from __future__ import annotations

from typing import Any

from gephyr_core.wire import anthropic_messages as am
from gephyr_core.wire import carrier
from gephyr_core.wire import gemini as gm
from gephyr_core.wire.canonical import Message, Request, Signature, TextPart, ThinkingPart, ToolSpec
from gephyr_core.wire.ids import GEMINI_BYPASS_SIGNATURE
from gephyr_core.wire.repair import needs_repair, repair_anthropic, repair_chat, repair_gemini

A = ThinkingPart("native text", Signature("anthropic", "ASIG"), False, "anthropic")
G = ThinkingPart("", Signature("gemini", "GSIG"), False, "gemini")
OAI = ThinkingPart("openai says", None, False, "openai")


def test_needs_repair() -> None:
    assert needs_repair(b'{"signature":"gph1.a.xyz"}')
    assert not needs_repair(b'{"text":"gph1 is fine"}')


def test_repair_anthropic_resolves_and_drops() -> None:
    body: dict[str, Any] = {
        "model": "c",
        "max_tokens": 5000,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "temperature": 0.5,
        "top_p": 0.9,
        "messages": [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "thinking",
                        "thinking": "edited",
                        "signature": carrier.encode_carrier("anthropic", [A]),
                    },
                    {
                        "type": "thinking",
                        "thinking": "g",
                        "signature": carrier.encode_carrier("gemini", [G]),
                    },
                    {"type": "text", "text": "a"},
                ],
            },
            {"role": "user", "content": "next"},
        ],
    }
    out = repair_anthropic(body)
    assert out["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "native text", "signature": "ASIG"},
        {"type": "text", "text": "a"},
    ]
    assert "temperature" not in out and "top_p" not in out and out["thinking"]["type"] == "enabled"
    assert body["messages"][1]["content"][0]["thinking"] == "edited"  # input untouched


def test_repair_anthropic_rule_b_and_a() -> None:
    body = {
        "model": "c",
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "temperature": 0.5,
        "messages": [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "thinking",
                        "thinking": "g",
                        "signature": carrier.encode_carrier("gemini", [G]),
                    },
                    {"type": "tool_use", "id": "t", "name": "f", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t", "content": "r"}],
            },
        ],
    }
    out = repair_anthropic(body)
    assert "thinking" not in out and out["temperature"] == 0.5
    assert out["messages"][1]["content"] == [
        {"type": "tool_use", "id": "t", "name": "f", "input": {}}
    ]


def test_repair_chat_and_gemini() -> None:
    chat = {
        "messages": [
            {
                "role": "assistant",
                "content": "x",
                "thinking_blocks": [
                    {
                        "type": "thinking",
                        "thinking": "o",
                        "signature": carrier.encode_carrier("openai", [OAI]),
                    },
                    {"type": "thinking", "thinking": "n", "signature": "NATIVE"},
                ],
                "tool_calls": [
                    {
                        "id": "c",
                        "type": "function",
                        "function": {"name": "f", "arguments": "{}"},
                        "extra_content": {
                            "google": {"thought_signature": carrier.encode_carrier("gemini", [G])}
                        },
                    }
                ],
            }
        ]
    }
    out = repair_chat(chat)["messages"][0]
    assert out["reasoning_content"] == "openai says"
    assert out["thinking_blocks"] == [{"type": "thinking", "thinking": "n", "signature": "NATIVE"}]
    assert out["tool_calls"][0]["extra_content"] == {"google": {}}
    gem = {
        "contents": [
            {
                "role": "model",
                "parts": [
                    {"text": "a", "thoughtSignature": carrier.encode_carrier("anthropic", [A])},
                    {
                        "functionCall": {"name": "f", "args": {}},
                        "thoughtSignature": carrier.encode_carrier("anthropic", [A]),
                    },
                    {
                        "functionCall": {"name": "g", "args": {}},
                        "thoughtSignature": carrier.encode_carrier("gemini", [G]),
                    },
                    {"functionCall": {"name": "h", "args": {}}, "thoughtSignature": "RAW"},
                ],
            }
        ]
    }
    parts = repair_gemini(gem)["contents"][0]["parts"]
    assert parts == [
        {"text": "a"},
        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": GEMINI_BYPASS_SIGNATURE},
        {"functionCall": {"name": "g", "args": {}}, "thoughtSignature": "GSIG"},
        {"functionCall": {"name": "h", "args": {}}, "thoughtSignature": "RAW"},
    ]


def test_count_tokens_bodies() -> None:
    req = Request(
        model="m-up",
        messages=(Message("user", (TextPart("hi"),)),),
        system=("s",),
        tools=(ToolSpec("f"),),
    )
    assert am.encode_count_tokens(req) == {
        "model": "m-up",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "system": [{"type": "text", "text": "s"}],
        "tools": [
            {"name": "f", "description": "", "input_schema": {"type": "object", "properties": {}}}
        ],
    }
    assert gm.encode_count_tokens(req) == {
        "generateContentRequest": {
            "model": "models/m-up",
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "systemInstruction": {"parts": [{"text": "s"}]},
            "tools": [{"functionDeclarations": [{"name": "f", "description": ""}]}],
        }
    }
    wrapped = {
        "generateContentRequest": {"model": "models/x", "contents": [{"parts": [{"text": "hi"}]}]}
    }
    assert gm.decode_count_tokens(wrapped, model="x").messages == (
        Message("user", (TextPart("hi"),)),
    )
    assert (
        gm.decode_count_tokens({"contents": [{"parts": [{"text": "hi"}]}]}, model="x").model == "x"
    )
