"""OpenAI chat streams in both directions (§2.1, §5)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from test_openai_chat import UP_RESPONSE
from wire_helpers import CREATED, client_ctx, decode_stream, encode_stream, sse, upstream_ctx

from gephyr_core.wire import carrier
from gephyr_core.wire import openai_chat as oc
from gephyr_core.wire.canonical import (
    ErrorInfo,
    Request,
    Signature,
    ThinkingPart,
    Usage,
)
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
