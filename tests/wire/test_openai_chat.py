"""OpenAI Chat Completions: client decode, upstream encode, responses and streams (§2.1, §5)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from wire_helpers import CREATED, client_ctx, decode_stream, encode_stream, sse, upstream_ctx

from gephyr_core.wire import carrier
from gephyr_core.wire import openai_chat as oc
from gephyr_core.wire.canonical import (
    EncodeOptions,
    ErrorInfo,
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
from gephyr_core.wire.events import (
    Finish,
    SignatureDelta,
    Start,
    StreamError,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    UsageUpdate,
    aggregate,
)
from gephyr_core.wire.openai_chat_stream import OpenAIChatStreamDecoder, OpenAIChatStreamEncoder

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


def chunk(
    delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any
) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"id": "up-1", "model": "gpt-up", "choices": choices} | extra


def decode(payloads: list[Any], req: Request | None = None) -> list[Any]:
    req = req or Request(model="m", messages=())
    return decode_stream(OpenAIChatStreamDecoder(upstream_ctx(req, "openai")), payloads)


def test_stream_decode_parallel_calls_same_index_and_interleaving() -> None:
    events = decode(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"reasoning_content": "hmm"}),
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "a1", "function": {"name": "f", "arguments": '{"x"'}}
                    ]
                }
            ),
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "b2", "function": {"name": "g", "arguments": "{}"}}
                    ]
                }
            ),
            chunk(
                {
                    "tool_calls": [
                        {"index": 1, "id": "c3", "function": {"name": "h", "arguments": ""}}
                    ]
                }
            ),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"n":1}'}}]}),
            chunk({"tool_calls": [{"function": {"arguments": '{"y":2}'}}]}),
            chunk({"content": "tail"}, "tool_calls"),
            chunk(None, usage={"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}),
            "[DONE]",
        ]
    )
    a_id, b_id, c_id = (e.id for e in events if isinstance(e, ToolCallStart))
    assert (a_id, b_id, c_id) == ("a1", "b2", "c3")
    assert events == [
        Start("up-1", "gpt-up", "openai"),
        ThinkingDelta("hmm"),
        ToolCallStart(0, "a1", "f"),
        ToolCallDelta(0, '{"x"'),
        UsageUpdate(Usage(5, 0, 0, 6, 0)),
        ToolCallEnd(0, {"_raw": '{"x"'}),
        ToolCallStart(1, "b2", "g"),
        ToolCallDelta(1, '{}"n":1}'),
        ToolCallEnd(1, {"_raw": '{}"n":1}'}),
        ToolCallStart(2, "c3", "h"),
        ToolCallDelta(2, '{"y":2}'),
        ToolCallEnd(2, {"y": 2}),
        TextDelta("tail"),
        UsageUpdate(Usage(5, 0, 0, 6, 0)),
        Finish("tool_use"),
    ]


def test_stream_decode_live_first_call_and_buffered_others() -> None:
    events = decode(
        [
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "a", "function": {"name": "f", "arguments": '{"p":'}}
                    ]
                }
            ),
            chunk(
                {
                    "tool_calls": [
                        {"index": 1, "id": "b", "function": {"name": "g", "arguments": '{"q":'}}
                    ]
                }
            ),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
            chunk({"tool_calls": [{"index": 1, "function": {"arguments": "2}"}}]}),
            chunk({}, "tool_calls"),
            "[DONE]",
        ]
    )
    assert events[1:] == [
        ToolCallStart(0, "a", "f"),
        ToolCallDelta(0, '{"p":'),
        ToolCallDelta(0, "1}"),
        ToolCallEnd(0, {"p": 1}),
        ToolCallStart(1, "b", "g"),
        ToolCallDelta(1, '{"q":2}'),
        ToolCallEnd(1, {"q": 2}),
        Finish("tool_use"),
    ]


def test_stream_decode_finish_waits_for_done_or_eof_and_interruptions() -> None:
    decoder = OpenAIChatStreamDecoder(upstream_ctx(Request(model="m", messages=()), "openai"))
    assert decoder.feed(json.dumps(chunk({"content": "x"}, "stop"))) == [
        Start("up-1", "gpt-up", "openai"),
        TextDelta("x"),
    ]
    assert decoder.close() == [Finish("end_turn")]
    cut = decode([chunk({"content": "x"})])
    assert isinstance(cut[-1], StreamError)
    err = decode([chunk({"content": "x"}), {"error": {"message": "bad gateway"}}])
    assert err[-1] == StreamError(ErrorInfo("upstream_error", 500, "bad gateway"))


def test_stream_encode_exact_bytes() -> None:
    req = Request(model="client-gpt", messages=(), stream_usage=True)
    enc = OpenAIChatStreamEncoder(client_ctx(req))
    raw = encode_stream(
        enc,
        [
            Start("u", "m", "anthropic"),
            TextDelta("Hi"),
            ToolCallStart(0, "call_1", "f"),
            ToolCallDelta(0, '{"a":1}'),
            ToolCallEnd(0, {"a": 1}),
            ToolCallStart(1, "call_2", "g"),
            ToolCallEnd(1, {}),
            UsageUpdate(Usage(10, 2, 0, 5, 1)),
            Finish("tool_use"),
        ],
    )
    head = (
        '{"id":"'
        + enc._id
        + '","object":"chat.completion.chunk","created":'
        + str(CREATED)
        + ',"model":"client-gpt","choices":'
    )

    def frame(delta: str, finish: str = "null") -> str:
        return (
            "data: "
            + head
            + '[{"index":0,"delta":'
            + delta
            + ',"finish_reason":'
            + finish
            + ',"logprobs":null}],"usage":null}\n\n'
        )

    expected = (
        frame('{"role":"assistant","content":""}')
        + frame('{"content":"Hi"}')
        + frame(
            '{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}'
        )
        + frame('{"tool_calls":[{"index":0,"function":{"arguments":"{\\"a\\":1}"}}]}')
        + frame(
            '{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"g","arguments":""}}]}'
        )
        + frame('{"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]}')
        + frame("{}", '"tool_calls"')
        + "data: "
        + head
        + '[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,'
        '"prompt_tokens_details":{"cached_tokens":2},"completion_tokens_details":{"reasoning_tokens":1}}}\n\n'
        + "data: [DONE]\n\n"
    )
    assert raw.decode() == expected


def test_stream_encode_without_usage_and_signatures() -> None:
    req = Request(model="c", messages=())
    frames = sse(
        encode_stream(
            OpenAIChatStreamEncoder(client_ctx(req)),
            [
                Start("u", "m", "gemini"),
                ThinkingDelta("think"),
                SignatureDelta(Signature("gemini", "G1")),
                TextDelta("x"),
                SignatureDelta(Signature("gemini", "G2")),
                ToolCallStart(0, "call_1", "f"),
                ToolCallEnd(0, {"a": 1}),
                Finish("tool_use"),
            ],
        )
    )
    deltas = [
        f[1]["choices"][0]["delta"]
        for f in frames
        if isinstance(f[1], dict) and f[1].get("choices")
    ]
    assert "usage" not in frames[0][1]
    assert deltas[2] == {
        "thinking_blocks": [
            {
                "type": "thinking",
                "thinking": "think",
                "signature": carrier.encode_carrier(
                    "gemini", [ThinkingPart("", Signature("gemini", "G1"))]
                ),
            }
        ]
    }
    assert deltas[4]["tool_calls"][0]["extra_content"] == {"google": {"thought_signature": "G2"}}
    assert frames[-1] == (None, "[DONE]")


def test_stream_encode_error_ends_without_done() -> None:
    req = Request(model="c", messages=())
    raw = encode_stream(
        OpenAIChatStreamEncoder(client_ctx(req)),
        [
            Start("u", "m", "openai"),
            TextDelta("x"),
            StreamError(ErrorInfo("upstream_error", 502, "cut")),
            Finish("end_turn"),
        ],
    )
    assert raw.endswith(
        b'data: {"error":{"message":"cut","type":"upstream_error","param":null,'
        b'"code":"stream_interrupted"}}\n\n'
    )
    assert b"[DONE]" not in raw


def test_stream_and_non_stream_agree() -> None:
    req = Request(model="m", messages=())
    streamed = decode(
        [
            chunk({"reasoning_content": "thought"}),
            chunk({"content": "hi"}),
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "call_0", "function": {"name": "look", "arguments": ""}}
                    ]
                }
            ),
            chunk({}, "stop"),
            chunk(None, usage=UP_RESPONSE["usage"]),
            "[DONE]",
        ],
        req,
    )
    expected = oc.decode_response(UP_RESPONSE, upstream_ctx(req, "openai"))
    assert aggregate(streamed) == replace(expected, id="up-1")
