"""Anthropic Messages streams in both directions (§2.4, §5)."""

from __future__ import annotations

from typing import Any

from test_anthropic_messages import ANSWER, base_request
from wire_helpers import client_ctx, decode_stream, encode_stream, sse, upstream_ctx

from gephyr_core.wire import anthropic_messages as am
from gephyr_core.wire import carrier
from gephyr_core.wire.anthropic_stream import AnthropicStreamDecoder, AnthropicStreamEncoder
from gephyr_core.wire.canonical import (
    ErrorInfo,
    Signature,
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

UPSTREAM_STREAM: list[dict[str, Any]] = [
    {
        "type": "message_start",
        "message": {
            "id": "m1",
            "model": "claude-up",
            "usage": {"input_tokens": 7, "output_tokens": 1},
        },
    },
    {"type": "ping"},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "stop_sequence", "stop_sequence": "##"},
        "usage": {"output_tokens": 3},
    },
    {"type": "message_stop"},
]


def test_stream_decode_golden() -> None:
    req = base_request()
    events = decode_stream(AnthropicStreamDecoder(upstream_ctx(req, "anthropic")), UPSTREAM_STREAM)
    assert events == [
        Start("m1", "claude-up", "anthropic"),
        UsageUpdate(Usage(7, 0, 0, 1, 0)),
        TextDelta("Hel"),
        TextDelta("lo"),
        UsageUpdate(Usage(7, 0, 0, 3, 0)),
        Finish("stop_sequence", "##"),
    ]


def test_stream_decode_eof_and_error() -> None:
    req = base_request()
    cut = decode_stream(AnthropicStreamDecoder(upstream_ctx(req, "anthropic")), UPSTREAM_STREAM[:4])
    assert isinstance(cut[-1], StreamError) and cut[-1].error.kind == "upstream_error"
    err = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    events = decode_stream(
        AnthropicStreamDecoder(upstream_ctx(req, "anthropic")), [UPSTREAM_STREAM[0], err]
    )
    assert events[-1] == StreamError(ErrorInfo("overloaded", 529, "Overloaded"))


def test_stream_encode_exact_bytes() -> None:
    req = base_request(model="client-m", client_format="anthropic")
    enc = AnthropicStreamEncoder(client_ctx(req))
    raw = encode_stream(
        enc,
        [
            Start("up", "x", "anthropic"),
            UsageUpdate(Usage(7, 0, 0, 0, 0)),
            TextDelta("Hi"),
            UsageUpdate(Usage(7, 0, 0, 2, 0)),
            Finish("end_turn"),
        ],
    )
    msg_id = enc._id
    expected = (
        "event: message_start\n"
        'data: {"type":"message_start","message":{"id":"'
        + msg_id
        + '","type":"message","role":"assistant",'
        '"model":"client-m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":7,'
        '"output_tokens":0,"cache_read_input_tokens":0,"cache_creation_input_tokens":0}}}\n\n'
        "event: content_block_start\n"
        'data: {"type":"content_block_start","index":0,'
        '"content_block":{"type":"text","text":""}}\n\n'
        "event: content_block_delta\n"
        'data: {"type":"content_block_delta","index":0,'
        '"delta":{"type":"text_delta","text":"Hi"}}\n\n'
        "event: content_block_stop\n"
        'data: {"type":"content_block_stop","index":0}\n\n'
        "event: message_delta\n"
        'data: {"type":"message_delta",'
        '"delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":'
        '{"input_tokens":7,"output_tokens":2,"cache_read_input_tokens":0,'
        '"cache_creation_input_tokens":0}}\n\n'
        "event: message_stop\n"
        'data: {"type":"message_stop"}\n\n'
    )
    assert raw.decode() == expected
    assert enc.done and enc.feed(TextDelta("late")) == b"" and enc.keepalive() == b""


def test_stream_encode_openai_thinking_gets_carrier_and_calls() -> None:
    req = base_request(client_format="anthropic")
    raw = encode_stream(
        AnthropicStreamEncoder(client_ctx(req)),
        [
            Start("up", "x", "openai"),
            ThinkingDelta("step "),
            ThinkingDelta("one"),
            TextDelta("ok"),
            ToolCallStart(0, "call_a", "f"),
            ToolCallDelta(0, '{"a":'),
            ToolCallDelta(0, "1}"),
            ToolCallEnd(0, {"a": 1}),
            ToolCallStart(1, "call_b", "g"),
            ToolCallEnd(1, {}),
            Finish("tool_use"),
        ],
    )
    frames = sse(raw)
    kinds = [
        (
            name,
            data.get("index"),
            (data.get("delta") or data.get("content_block") or {}).get("type"),
        )
        for name, data in frames
    ]
    assert kinds == [
        ("message_start", None, None),
        ("content_block_start", 0, "thinking"),
        ("content_block_delta", 0, "thinking_delta"),
        ("content_block_delta", 0, "thinking_delta"),
        ("content_block_delta", 0, "signature_delta"),
        ("content_block_stop", 0, None),
        ("content_block_start", 1, "text"),
        ("content_block_delta", 1, "text_delta"),
        ("content_block_stop", 1, None),
        ("content_block_start", 2, "tool_use"),
        ("content_block_delta", 2, "input_json_delta"),
        ("content_block_delta", 2, "input_json_delta"),
        ("content_block_stop", 2, None),
        ("content_block_start", 3, "tool_use"),
        ("content_block_stop", 3, None),
        ("message_delta", None, None),
        ("message_stop", None, None),
    ]
    signature = frames[4][1]["delta"]["signature"]
    assert carrier.decode_carrier(signature) == [ThinkingPart("step one", None, False, "openai")]


def test_stream_encode_deferred_close_lands_gemini_signature() -> None:
    req = base_request(client_format="anthropic")
    raw = encode_stream(
        AnthropicStreamEncoder(client_ctx(req)),
        [
            Start("up", "x", "gemini"),
            ThinkingDelta("t"),
            TextDelta("answer"),
            SignatureDelta(Signature("gemini", "GS")),
            Finish("end_turn"),
        ],
    )
    frames = sse(raw)
    assert frames[3][1]["delta"] == {
        "type": "signature_delta",
        "signature": carrier.encode_carrier(
            "gemini", [ThinkingPart("t", Signature("gemini", "GS"))]
        ),
    }
    assert frames[4][0] == "content_block_stop" and frames[5][1]["content_block"]["type"] == "text"


def test_stream_encode_error_has_no_message_stop() -> None:
    req = base_request(client_format="anthropic")
    enc = AnthropicStreamEncoder(client_ctx(req))
    raw = encode_stream(
        enc,
        [
            Start("u", "x", "anthropic"),
            TextDelta("par"),
            StreamError(ErrorInfo("overloaded", 529, "busy")),
            Finish("end_turn"),
        ],
    )
    frames = sse(raw)
    assert frames[-1] == (
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}},
    )
    assert not any(name in ("message_delta", "message_stop") for name, _ in frames)


def test_stream_and_non_stream_agree() -> None:
    req = base_request(tools=(ToolSpec("search"),))
    stream = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_up",
                "model": "claude-up",
                "usage": {
                    "input_tokens": 100,
                    "cache_read_input_tokens": 900,
                    "cache_creation_input_tokens": 50,
                },
            },
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "hm"},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "S1"},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "ok"}},
        {"type": "content_block_stop", "index": 1},
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_9", "name": "search", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": '{"q": "z"}'},
        },
        {"type": "content_block_stop", "index": 2},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 20},
        },
        {"type": "message_stop"},
    ]
    streamed = aggregate(
        decode_stream(AnthropicStreamDecoder(upstream_ctx(req, "anthropic")), stream)
    )
    assert streamed == am.decode_response(ANSWER, upstream_ctx(req, "anthropic"))
