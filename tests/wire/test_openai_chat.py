"""OpenAI Chat Completions: client decode, upstream encode, responses and streams (§2.1, §5)."""

from __future__ import annotations

from typing import Any

import pytest
from wire_helpers import CREATED, client_ctx, upstream_ctx

from gephyr_core.wire import carrier
from gephyr_core.wire import openai_chat as oc
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

PARAMS = {"type": "object", "properties": {"city": {"type": "string"}}}


def test_decode_request_golden() -> None:
    sig = carrier.encode_carrier("gemini", [ThinkingPart("", Signature("gemini", "G0"))])
    body: dict[str, Any] = {
        "model": "gpt-x",
        "messages": [
            {"role": "developer", "content": "dev rules"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "weather?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,QQ=="}},
                ],
            },
            {"role": "system", "content": [{"type": "text", "text": "late system"}]},
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": "ignored: thinking_blocks win",
                "thinking_blocks": [{"type": "thinking", "thinking": "t", "signature": sig}],
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
                        "extra_content": {"google": {"thought_signature": "GS"}},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "weather", "arguments": "{bad"},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {
                "role": "tool",
                "tool_call_id": "call_2",
                "content": [{"type": "text", "text": "rain"}],
            },
            {
                "role": "user",
                "content": [
                    {"type": "input_audio", "input_audio": {"data": "AU", "format": "mp3"}},
                    {
                        "type": "file",
                        "file": {
                            "file_data": "data:application/pdf;base64,PDF",
                            "filename": "a.pdf",
                        },
                    },
                ],
            },
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "description": "w",
                    "parameters": PARAMS,
                    "strict": True,
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "weather"}},
        "parallel_tool_calls": False,
        "max_tokens": 10,
        "max_completion_tokens": 20,
        "temperature": 0.3,
        "stop": "END",
        "seed": 7,
        "presence_penalty": 0.1,
        "safety_identifier": "sid",
        "reasoning_effort": "low",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "w", "schema": PARAMS, "strict": True},
        },
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert oc.decode_request(body) == Request(
        model="gpt-x",
        system=("dev rules", "late system"),
        messages=(
            Message("user", (TextPart("weather?"), MediaPart("image/png", "QQ=="))),
            Message(
                "assistant",
                (
                    ThinkingPart("t", Signature("gemini", "G0"), False, "gemini"),
                    ToolCallPart("call_1", "weather", {"city": "Paris"}, Signature("gemini", "GS")),
                    ToolCallPart("call_2", "weather", {"_raw": "{bad"}),
                ),
            ),
            Message(
                "user",
                (
                    ToolResultPart("call_1", "weather", (TextPart("sunny"),)),
                    ToolResultPart("call_2", "weather", (TextPart("rain"),)),
                    MediaPart("audio/mp3", "AU"),
                    MediaPart("application/pdf", "PDF", None, "a.pdf"),
                ),
            ),
        ),
        tools=(ToolSpec("weather", "w", PARAMS, True, ToolOrigin("function", None, "weather")),),
        tool_choice=ToolChoice("tool", "weather"),
        parallel_tool_calls=False,
        params=Params(
            max_output_tokens=20, temperature=0.3, stop=("END",), seed=7, presence_penalty=0.1
        ),
        thinking=ThinkingConfig("on", effort="low"),
        output_format=OutputFormat("json_schema", "w", PARAMS, True),
        stream=True,
        stream_usage=True,
        user="sid",
        client_format="chat",
    )


def test_decode_legacy_functions_and_reasoning() -> None:
    body = {
        "model": "m",
        "functions": [{"name": "f", "parameters": PARAMS}],
        "function_call": {"name": "f"},
        "messages": [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "reasoning_content": "why",
                "function_call": {"name": "f", "arguments": "{}"},
            },
            {"role": "function", "name": "f", "content": "done"},
        ],
    }
    req = oc.decode_request(body)
    assert req.tool_choice == ToolChoice("tool", "f") and req.tools[0].name == "f"
    assert req.messages[1].parts == (
        ThinkingPart("why", None, False, "openai"),
        ToolCallPart("call_legacy_0", "f", {}),
    )
    assert req.messages[2].parts == (ToolResultPart("call_legacy_0", "f", (TextPart("done"),)),)


@pytest.mark.parametrize(
    ("patch", "kind"),
    [
        ({"n": 2}, "unsupported"),
        ({"modalities": ["text", "audio"]}, "unsupported"),
        ({"messages": []}, "invalid_request"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "invalid_request"),
        ({"temperature": "hot"}, "invalid_request"),
        ({"tool_choice": 5}, "invalid_request"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}
                ]
            },
            "unsupported",
        ),
    ],
)
def test_decode_request_errors(patch: dict[str, Any], kind: str) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]} | patch
    with pytest.raises(WireError) as info:
        oc.decode_request(body)
    assert info.value.kind == kind and info.value.info().status == 400


def test_encode_request_golden() -> None:
    anthropic_thought = ThinkingPart("secret", Signature("anthropic", "S"), False, "anthropic")
    req = Request(
        model="gpt-up",
        system=("s1", "s2"),
        messages=(
            Message("user", (TextPart("hi"),)),
            Message(
                "assistant",
                (
                    anthropic_thought,
                    ThinkingPart("mine", None, False, "openai"),
                    TextPart("let me check"),
                    ToolCallPart("c1", "look", {"q": 1}, Signature("gemini", "G")),
                    ToolCallPart("c2", "look", {}),
                ),
            ),
            Message(
                "user",
                (
                    ToolResultPart("c1", "look", (TextPart("r1"), MediaPart("image/png", "IMG"))),
                    ToolResultPart("c2", "look", (TextPart("r2"),), True),
                    TextPart("and?"),
                ),
            ),
        ),
        tools=(ToolSpec("look", "d", {"type": "object", "properties": {}}, None),),
        tool_choice=ToolChoice("required"),
        parallel_tool_calls=True,
        params=Params(
            max_output_tokens=100, temperature=3.0, stop=("a", "b", "c", "d", "e"), seed=1
        ),
        thinking=ThinkingConfig("on", budget_tokens=1500),
        output_format=OutputFormat("json_object"),
        user="u",
    )
    assert oc.encode_request(
        req, EncodeOptions(openai_max_tokens_field="max_completion_tokens")
    ) == {
        "model": "gpt-up",
        "messages": [
            {"role": "system", "content": "s1"},
            {"role": "system", "content": "s2"},
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": "let me check",
                "reasoning_content": "mine",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "look", "arguments": '{"q":1}'},
                    },
                    {
                        "id": "c2",
                        "type": "function",
                        "function": {"name": "look", "arguments": "{}"},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "r1"},
            {"role": "tool", "tool_call_id": "c2", "content": "r2"},
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,IMG"}},
                    {"type": "text", "text": "and?"},
                ],
            },
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "look",
                    "description": "d",
                    "parameters": {"type": "object", "properties": {}},
                },
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "required",
        "max_completion_tokens": 100,
        "temperature": 2.0,
        "stop": ["a", "b", "c", "d"],
        "seed": 1,
        "safety_identifier": "u",
        "reasoning_effort": "medium",
        "response_format": {"type": "json_object"},
        "stream": True,
        "stream_options": {"include_usage": True},
    }


UP_RESPONSE = {
    "id": "chatcmpl-up",
    "model": "gpt-up",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "hi",
                "reasoning_content": "thought",
                "tool_calls": [
                    {
                        "id": "call_0",
                        "type": "function",
                        "function": {"name": "look", "arguments": ""},
                    }
                ],
            },
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 1000,
        "completion_tokens": 30,
        "total_tokens": 1030,
        "prompt_tokens_details": {"cached_tokens": 800},
        "completion_tokens_details": {"reasoning_tokens": 10},
    },
}


def test_decode_response_golden() -> None:
    req = Request(
        model="m", messages=(Message("assistant", (ToolCallPart("call_0", "look", {}),)),)
    )
    resp = oc.decode_response(UP_RESPONSE, upstream_ctx(req, "openai"))
    call = resp.parts[2]
    assert isinstance(call, ToolCallPart) and call.id != "call_0" and call.id.startswith("call_")
    assert resp == Response(
        "chatcmpl-up",
        "gpt-up",
        (
            ThinkingPart("thought", None, False, "openai"),
            TextPart("hi"),
            ToolCallPart(call.id, "look", {}),
        ),
        "tool_use",
        None,
        Usage(1000, 800, 0, 30, 10),
    )


def test_encode_response_golden() -> None:
    req = Request(model="client-gpt", messages=())
    thought = ThinkingPart("deep", Signature("anthropic", "SIG"), False, "anthropic")
    resp = Response(
        "x",
        "y",
        (
            thought,
            TextPart("a"),
            TextPart("b"),
            ToolCallPart("call_9", "f", {"k": "v"}, Signature("gemini", "GS")),
        ),
        "tool_use",
        None,
        Usage(1050, 900, 50, 20, 0),
    )
    body = oc.encode_response(resp, client_ctx(req))
    assert body["id"].startswith("chatcmpl-") and len(body["id"]) == 33
    assert body | {"id": "X"} == {
        "id": "X",
        "object": "chat.completion",
        "created": CREATED,
        "model": "client-gpt",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "ab",
                    "refusal": None,
                    "tool_calls": [
                        {
                            "id": "call_9",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"k":"v"}'},
                            "extra_content": {"google": {"thought_signature": "GS"}},
                        }
                    ],
                    "reasoning_content": "deep",
                    "thinking_blocks": [
                        {"type": "thinking", "thinking": "deep", "signature": "SIG"}
                    ],
                },
                "finish_reason": "tool_calls",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": 1050,
            "completion_tokens": 20,
            "total_tokens": 1070,
            "prompt_tokens_details": {"cached_tokens": 900, "cache_write_tokens": 50},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }
