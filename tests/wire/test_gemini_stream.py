"""Gemini streams in both directions, SSE and JSON-array framing (§1.2, §5)."""

from __future__ import annotations

import json
from typing import Any

from test_gemini import UP_ANSWER
from wire_helpers import client_ctx, decode_stream, encode_stream, upstream_ctx

from gephyr_core.wire import carrier
from gephyr_core.wire import gemini as gm
from gephyr_core.wire.canonical import (
    ErrorInfo,
    Request,
    Signature,
    ThinkingConfig,
    ThinkingPart,
    ToolSpec,
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
from gephyr_core.wire.gemini_stream import GeminiStreamDecoder, GeminiStreamEncoder


def decode(chunks: list[Any], req: Request | None = None) -> list[Any]:
    req = req or Request(model="m", messages=())
    return decode_stream(GeminiStreamDecoder(upstream_ctx(req, "gemini")), chunks)


def test_stream_decode_holds_finish_until_eof_and_derives_tool_use() -> None:
    events = decode(
        [
            {
                "candidates": [{"content": {"parts": [{"text": "hm", "thought": True}]}}],
                "responseId": "r",
                "modelVersion": "v",
                "usageMetadata": {"promptTokenCount": 1},
            },
            {
                "candidates": [
                    {
                        "content": {
                            "parts": [
                                {
                                    "functionCall": {"id": "fc1", "name": "f", "args": {"a": 1}},
                                    "thoughtSignature": "S",
                                }
                            ]
                        }
                    }
                ]
            },
            {
                "candidates": [
                    {
                        "content": {"parts": [{"text": "t", "thoughtSignature": "S2"}]},
                        "finishReason": "STOP",
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": 9,
                    "candidatesTokenCount": 4,
                    "totalTokenCount": 13,
                },
            },
        ]
    )
    assert events == [
        Start("r", "v", "gemini"),
        ThinkingDelta("hm"),
        SignatureDelta(Signature("gemini", "S")),
        ToolCallStart(0, "fc1", "f"),
        ToolCallDelta(0, '{"a":1}'),
        ToolCallEnd(0, {"a": 1}),
        TextDelta("t"),
        SignatureDelta(Signature("gemini", "S2")),
        UsageUpdate(Usage(9, 0, 0, 4, 0)),
        Finish("tool_use"),
    ]


def test_stream_decode_interruption_and_error() -> None:
    cut = decode([{"candidates": [{"content": {"parts": [{"text": "a"}]}}]}])
    assert isinstance(cut[-1], StreamError)
    err = decode([{"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}])
    assert err == [StreamError(ErrorInfo("overloaded", 503, "overloaded"))]


def test_stream_encode_sse_exact_bytes() -> None:
    req = Request(model="gem-client", messages=(), client_format="gemini")
    enc = GeminiStreamEncoder(client_ctx(req))
    raw = encode_stream(
        enc,
        [
            Start("u", "m", "openai"),
            TextDelta("Hel"),
            TextDelta("lo"),
            UsageUpdate(Usage(3, 0, 0, 2, 0)),
            Finish("end_turn"),
        ],
    )
    rid = enc._id
    assert raw.decode() == (
        'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]},"index":0}],'
        '"modelVersion":"gem-client","responseId":"' + rid + '"}\r\n\r\n'
        'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"lo"}]},"index":0,'
        '"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,'
        '"totalTokenCount":5},"modelVersion":"gem-client","responseId":"' + rid + '"}\r\n\r\n'
    )
    assert enc.keepalive() == b""


def test_stream_encode_json_array_and_failure() -> None:
    req = Request(model="g", messages=(), client_format="gemini")
    ok = encode_stream(
        GeminiStreamEncoder(client_ctx(req), sse=False),
        [
            Start("u", "m", "anthropic"),
            TextDelta("a"),
            TextDelta("b"),
            Finish("max_tokens"),
        ],
    )
    assert ok.startswith(b"[{") and ok.count(b",\r\n{") == 1 and ok.endswith(b"}]")
    chunks = json.loads(ok)
    assert [c["candidates"][0]["content"]["parts"] for c in chunks] == [
        [{"text": "a"}],
        [{"text": "b"}],
    ]
    assert chunks[-1]["candidates"][0]["finishReason"] == "MAX_TOKENS"
    failed = encode_stream(
        GeminiStreamEncoder(client_ctx(req), sse=False),
        [
            Start("u", "m", "anthropic"),
            TextDelta("a"),
            StreamError(ErrorInfo("upstream_error", 502, "lost")),
        ],
    )
    assert json.loads(failed)[-1] == {
        "error": {"code": 500, "message": "lost", "status": "INTERNAL"}
    }
    only_error = encode_stream(
        GeminiStreamEncoder(client_ctx(req), sse=False),
        [StreamError(ErrorInfo("overloaded", 503, "busy"))],
    )
    assert json.loads(only_error) == [
        {"error": {"code": 503, "message": "busy", "status": "UNAVAILABLE"}}
    ]


def test_stream_encode_call_carrier_and_whole_calls() -> None:
    req = Request(
        model="g",
        messages=(),
        client_format="gemini",
        thinking=ThinkingConfig("on", include_thoughts=True),
    )
    raw = encode_stream(
        GeminiStreamEncoder(client_ctx(req)),
        [
            Start("u", "m", "anthropic"),
            ThinkingDelta("plan"),
            SignatureDelta(Signature("anthropic", "AS")),
            ToolCallStart(0, "toolu_1", "f"),
            ToolCallDelta(0, '{"a":'),
            ToolCallDelta(0, "1}"),
            ToolCallEnd(0, {"a": 1}),
            Finish("tool_use"),
        ],
    )
    frames = [json.loads(line[6:]) for line in raw.decode().split("\r\n\r\n") if line]
    assert frames[0]["candidates"][0]["content"]["parts"] == [{"text": "plan", "thought": True}]
    part = frames[1]["candidates"][0]["content"]["parts"][0]
    assert part == {
        "functionCall": {"id": "toolu_1", "name": "f", "args": {"a": 1}},
        "thoughtSignature": carrier.encode_carrier(
            "anthropic", [ThinkingPart("plan", Signature("anthropic", "AS"), False, "anthropic")]
        ),
    }
    assert frames[1]["candidates"][0]["finishReason"] == "STOP"


def test_stream_and_non_stream_agree() -> None:
    req = Request(model="m", messages=(), tools=(ToolSpec("f"),))
    streamed = aggregate(decode([UP_ANSWER], req))
    assert streamed == gm.decode_response(UP_ANSWER, upstream_ctx(req, "gemini"))
