"""Anthropic Messages: client decode, upstream encode, responses and streams (§2.4, §4, §5)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from wire_helpers import client_ctx, upstream_ctx

from gephyr_core.wire import anthropic_messages as am
from gephyr_core.wire import carrier
from gephyr_core.wire.canonical import (
    EncodeOptions,
    MediaPart,
    Message,
    OutputFormat,
    Params,
    Request,
    Response,
    Signature,
    TextPart,
    ThinkingConfig,
    ThinkingPart,
    ToolCallPart,
    ToolChoice,
    ToolOrigin,
    ToolResultPart,
    ToolSpec,
    Usage,
)
from gephyr_core.wire.errors import WireError

SCHEMA = {"type": "object", "properties": {"q": {"type": "string"}}}


def test_decode_request_golden() -> None:
    body: dict[str, Any] = {
        "model": "claude-sonnet",
        "max_tokens": 1024,
        "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "AA"},
                    }
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "plan", "signature": "SIG"},
                    {"type": "redacted_thinking", "data": "RED"},
                    {"type": "server_tool_use", "id": "srv", "name": "web_search", "input": {}},
                    {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {"q": "x"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "also"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "is_error": True,
                        "content": [
                            {"type": "text", "text": "fail"},
                            {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
                        ],
                    },
                    {"type": "document", "source": {"type": "text", "data": "doc text"}},
                    {"type": "search_result", "content": [{"type": "text", "text": "found"}]},
                ],
            },
        ],
        "tools": [
            {"name": "search", "description": "find", "input_schema": SCHEMA},
            {"type": "web_search_20250305", "name": "web_search"},
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "high"},
        "temperature": 0.5,
        "top_k": 5,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u1"},
        "stream": True,
    }
    assert am.decode_request(body) == Request(
        model="claude-sonnet",
        system=("be brief",),
        messages=(
            Message("user", (TextPart("hi"), MediaPart("image/png", "AA"))),
            Message(
                "assistant",
                (
                    ThinkingPart("plan", Signature("anthropic", "SIG"), False, "anthropic"),
                    ThinkingPart("", Signature("anthropic", "RED"), True, "anthropic"),
                    ToolCallPart("toolu_1", "search", {"q": "x"}),
                ),
            ),
            Message(
                "user",
                (
                    ToolResultPart(
                        "toolu_1",
                        "search",
                        (TextPart("fail"), MediaPart(None, None, "https://x/y.png")),
                        True,
                    ),
                    TextPart("also"),
                    TextPart("doc text"),
                    TextPart("found"),
                ),
            ),
        ),
        tools=(ToolSpec("search", "find", SCHEMA, None, ToolOrigin("function", None, "search")),),
        tool_choice=ToolChoice("required"),
        parallel_tool_calls=False,
        params=Params(max_output_tokens=1024, temperature=0.5, top_k=5, stop=("END",)),
        thinking=ThinkingConfig("on", effort="high"),
        stream=True,
        stream_usage=True,
        user="u1",
        client_format="anthropic",
    )


@pytest.mark.parametrize(
    ("patch", "param"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"model": None}, "model"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages[0].role"),
        ({"max_tokens": "many"}, "max_tokens"),
        ({"thinking": {"type": "sometimes"}}, "thinking.type"),
    ],
)
def test_decode_request_errors(patch: dict[str, Any], param: str) -> None:
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]} | patch
    body = {k: v for k, v in body.items() if v is not None}
    with pytest.raises(WireError) as info:
        am.decode_request(body)
    assert info.value.kind == "invalid_request" and info.value.param == param


def test_count_tokens_body_needs_no_max_tokens() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert am.decode_request(body, require_max_tokens=False).params.max_output_tokens is None


def test_decode_carriers_from_other_providers() -> None:
    gem = carrier.encode_carrier("gemini", [ThinkingPart("", Signature("gemini", "G1"))])
    oai = carrier.encode_carrier("openai", [ThinkingPart("reasoned", None, False, "openai")])
    body = {
        "model": "m",
        "max_tokens": 5,
        "messages": [
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "gem text", "signature": gem},
                    {"type": "thinking", "thinking": "client edited", "signature": oai},
                    {"type": "text", "text": "a"},
                ],
            },
        ],
    }
    parts = am.decode_request(body).messages[1].parts
    assert parts[:2] == (
        ThinkingPart("gem text", Signature("gemini", "G1"), False, "gemini"),
        ThinkingPart("reasoned", None, False, "openai"),
    )


def base_request(**kw: Any) -> Request:
    fields: dict[str, Any] = {
        "model": "claude-up",
        "messages": (Message("user", (TextPart("hi"),)),),
        "client_format": "chat",
    }
    return Request(**(fields | kw))


def test_encode_request_golden() -> None:
    req = base_request(
        system=("sys one", "sys two"),
        messages=(
            Message(
                "user",
                (
                    TextPart("look"),
                    MediaPart("image/jpeg", "JJ"),
                    MediaPart(None, None, "https://i/x.png"),
                ),
            ),
            Message(
                "assistant", (TextPart("calling"), ToolCallPart("functions.f:0", "f.x", {"a": 1}))
            ),
            Message(
                "user",
                (
                    ToolResultPart(
                        "functions.f:0", "f.x", (TextPart("r"), MediaPart("image/png", "PP")), True
                    ),
                ),
            ),
            Message("assistant", (TextPart("answer  \n"),)),
        ),
        tools=(ToolSpec("f.x", "desc", {"properties": {}}, True),),
        tool_choice=ToolChoice("tool", "f.x"),
        parallel_tool_calls=False,
        params=Params(temperature=1.7, top_p=0.5, top_k=3, stop=("  ", "STOP")),
        output_format=OutputFormat("json_object"),
        user="alice",
        stream=True,
    )
    from gephyr_core.wire.ids import sha8

    name = f"f_x_{sha8('f.x')}"
    call_id = f"functions_f_0_{sha8('functions.f:0')}"
    assert am.encode_request(req, EncodeOptions(catalogue_max_tokens=2000)) == {
        "model": "claude-up",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/jpeg", "data": "JJ"},
                    },
                    {"type": "image", "source": {"type": "url", "url": "https://i/x.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "calling"},
                    {"type": "tool_use", "id": call_id, "name": name, "input": {"a": 1}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": call_id,
                        "content": [
                            {"type": "text", "text": "r"},
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": "PP",
                                },
                            },
                        ],
                        "is_error": True,
                    }
                ],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "answer"}]},
        ],
        "system": [
            {"type": "text", "text": "sys one"},
            {"type": "text", "text": "sys two"},
            {"type": "text", "text": am.JSON_OBJECT_INSTRUCTION},
        ],
        "max_tokens": 2000,
        "temperature": 1.0,
        "top_p": 0.5,
        "top_k": 3,
        "stop_sequences": ["STOP"],
        "tools": [
            {
                "name": name,
                "description": "desc",
                "input_schema": {"type": "object", "properties": {}},
            }
        ],
        "tool_choice": {"type": "tool", "name": name, "disable_parallel_tool_use": True},
        "metadata": {"user_id": "alice"},
        "stream": True,
    }


SIGNED = ThinkingPart("plan", Signature("anthropic", "SIG"), False, "anthropic")
GEMINI_THOUGHT = ThinkingPart("g", Signature("gemini", "G"), False, "gemini")
OPENAI_THOUGHT = ThinkingPart("o", None, False, "openai")


def history(*assistant: Any) -> tuple[Message, ...]:
    return (
        Message("user", (TextPart("q"),)),
        Message("assistant", tuple(assistant)),
        Message("user", (TextPart("next"),)),
    )


def test_thinking_kept_only_when_anthropic_signed_and_on() -> None:
    req = base_request(
        messages=history(SIGNED, GEMINI_THOUGHT, OPENAI_THOUGHT, TextPart("a")),
        thinking=ThinkingConfig("on", budget_tokens=3000),
        params=Params(max_output_tokens=8000, temperature=0.2, top_p=0.9, top_k=4),
    )
    body = am.encode_request(req)
    assert body["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "plan", "signature": "SIG"},
        {"type": "text", "text": "a"},
    ]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 3000}
    assert "temperature" not in body and "top_k" not in body and "top_p" not in body
    assert "gph1." not in json.dumps(body)


def test_rule_a_thinking_off_removes_blocks() -> None:
    body = am.encode_request(base_request(messages=history(SIGNED, TextPart("a"))))
    assert body["messages"][1]["content"] == [{"type": "text", "text": "a"}]
    assert "thinking" not in body


def test_rule_b_unsigned_tool_loop_turns_thinking_off() -> None:
    msgs = (
        Message("user", (TextPart("q"),)),
        Message("assistant", (GEMINI_THOUGHT, ToolCallPart("c1", "f", {}))),
        Message("user", (ToolResultPart("c1", "f", (TextPart("r"),)),)),
    )
    req = base_request(messages=msgs, thinking=ThinkingConfig("on"), params=Params(temperature=0.3))
    body = am.encode_request(req)
    assert "thinking" not in body and body["temperature"] == 0.3
    signed = replace(
        req,
        messages=(msgs[0], Message("assistant", (SIGNED, ToolCallPart("c1", "f", {}))), msgs[2]),
    )
    assert am.encode_request(signed)["thinking"]["type"] == "enabled"


def test_rule_c_forced_tool_choice_turns_thinking_off() -> None:
    req = base_request(
        thinking=ThinkingConfig("on"), tool_choice=ToolChoice("required"), tools=(ToolSpec("f"),)
    )
    body = am.encode_request(req)
    assert "thinking" not in body and body["tool_choice"] == {"type": "any"}


def test_high_top_p_survives_thinking() -> None:
    req = base_request(
        thinking=ThinkingConfig("on"), params=Params(top_p=0.97, max_output_tokens=500)
    )
    body = am.encode_request(req)
    assert body["top_p"] == 0.97
    assert (
        body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
        and body["max_tokens"] == 1524
    )


@pytest.mark.parametrize(
    "media",
    [
        MediaPart("image/bmp", "BB"),
        MediaPart("audio/wav", "WW"),
        MediaPart(None, None, "https://generativelanguage.googleapis.com/v1beta/files/abc"),
    ],
)
def test_unsupported_media_is_400(media: MediaPart) -> None:
    with pytest.raises(WireError) as info:
        am.encode_request(base_request(messages=(Message("user", (media,)),)))
    assert info.value.info().status == 400


def test_json_schema_output_and_default_max_tokens() -> None:
    req = base_request(output_format=OutputFormat("json_schema", "r", SCHEMA))
    body = am.encode_request(req)
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": SCHEMA}}
    assert body["max_tokens"] == 8192


ANSWER = {
    "id": "msg_up",
    "type": "message",
    "role": "assistant",
    "model": "claude-up",
    "content": [
        {"type": "thinking", "thinking": "hm", "signature": "S1"},
        {"type": "text", "text": "ok"},
        {"type": "tool_use", "id": "toolu_9", "name": "search", "input": {"q": "z"}},
    ],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 100,
        "cache_read_input_tokens": 900,
        "cache_creation_input_tokens": 50,
        "output_tokens": 20,
    },
}


def test_decode_response_golden_with_override_and_usage() -> None:
    req = base_request(tools=(ToolSpec("search"),))
    resp = am.decode_response(ANSWER, upstream_ctx(req, "anthropic"))
    assert resp == Response(
        "msg_up",
        "claude-up",
        (
            ThinkingPart("hm", Signature("anthropic", "S1"), False, "anthropic"),
            TextPart("ok"),
            ToolCallPart("toolu_9", "search", {"q": "z"}),
        ),
        "tool_use",
        None,
        Usage(1050, 900, 50, 20, 0),
    )


def test_encode_response_golden() -> None:
    req = base_request(model="client-model", client_format="anthropic")
    resp = Response(
        "up",
        "x",
        (
            OPENAI_THOUGHT,
            TextPart("hi"),
            ToolCallPart("call_1", "f", {"a": 1}, Signature("gemini", "G")),
        ),
        "tool_use",
        None,
        Usage(1000, 800, 0, 30, 5),
    )
    body = am.encode_response(resp, client_ctx(req))
    assert body["id"].startswith("msg_") and len(body["id"]) == 28
    assert body | {"id": "X"} == {
        "id": "X",
        "type": "message",
        "role": "assistant",
        "model": "client-model",
        "content": [
            {
                "type": "thinking",
                "thinking": "o",
                "signature": carrier.encode_carrier("openai", [OPENAI_THOUGHT]),
            },
            {"type": "text", "text": "hi"},
            {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 200,
            "output_tokens": 30,
            "cache_read_input_tokens": 800,
            "cache_creation_input_tokens": 0,
        },
    }
