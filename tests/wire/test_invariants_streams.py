"""Property tests of §9 on stream encoders and decoders (invariants 2, 3, 6, 8, 9, 11)."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from test_invariants import (
    FAST,
    STOPS,
    args,
    providers,
    sig_values,
    tool_names,
    usages,
    walk,
)
from wire_helpers import client_ctx, decode_stream, sse, upstream_ctx

from gephyr_core.wire.canonical import (
    ErrorInfo,
    Message,
    Request,
    Signature,
    ThinkingConfig,
    ToolCallPart,
)
from gephyr_core.wire.events import (
    Event,
    Finish,
    RedactedThinking,
    SignatureDelta,
    Start,
    StreamError,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    UsageUpdate,
)
from gephyr_core.wire.gemini_stream import GeminiStreamDecoder
from gephyr_core.wire.ids import TOOL_ID
from gephyr_core.wire.openai_chat_stream import OpenAIChatStreamDecoder
from gephyr_core.wire.registry import (
    client_stream_encoder,
)


@st.composite
def event_streams(draw: st.DrawFn) -> list[Event]:
    provider = draw(providers)
    events: list[Event] = [Start("up", "m", provider)]
    if draw(st.booleans()):
        events.append(UsageUpdate(draw(usages)))
    k = 0
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            events += [
                TextDelta(t)
                for t in draw(st.lists(st.sampled_from(["a", "b c", "é"]), min_size=1, max_size=3))
            ]
        elif kind == 1:
            events += [
                ThinkingDelta(t)
                for t in draw(st.lists(st.sampled_from(["x", "y"]), min_size=1, max_size=2))
            ]
            if draw(st.booleans()):
                events.append(SignatureDelta(Signature(provider, draw(sig_values))))
        elif kind == 2 and provider == "anthropic":
            events.append(RedactedThinking(Signature("anthropic", draw(sig_values))))
        else:
            arguments = draw(args)
            raw = json.dumps(arguments, separators=(",", ":"))
            cuts = sorted(set(draw(st.lists(st.integers(0, len(raw)), max_size=3))))
            pieces = [
                raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True) if raw[a:b]
            ]
            if provider == "gemini" and draw(st.booleans()):
                events.append(SignatureDelta(Signature("gemini", draw(sig_values))))
            events.append(ToolCallStart(k, f"call_{k}", draw(tool_names)))
            events += [ToolCallDelta(k, p) for p in pieces]
            events.append(ToolCallEnd(k, arguments))
            k += 1
    events.append(UsageUpdate(draw(usages)))
    if draw(st.integers(0, 4)) == 0:
        events.append(
            StreamError(
                ErrorInfo(
                    draw(st.sampled_from(["overloaded", "upstream_error", "rate_limited"])),
                    502,
                    "x",
                )
            )
        )
    else:
        events.append(Finish(draw(st.sampled_from(STOPS))))
    return events


def run(fmt: str, events: list[Event], sse_mode: bool = True) -> bytes:
    req = Request(
        model="client",
        messages=(),
        stream_usage=True,
        thinking=ThinkingConfig("on", include_thoughts=True),
    )
    enc = client_stream_encoder(fmt, client_ctx(req), gemini_sse=sse_mode)  # type: ignore[arg-type]
    raw = b"".join(enc.feed(e) for e in events)
    assert enc.done
    assert (
        enc.feed(Finish("end_turn")) == b"" and enc.feed(TextDelta("late")) == b""
    )  # nothing after the end
    return raw


def calls_of(events: list[Event]) -> list[dict[str, Any]]:
    return [e.arguments for e in events if isinstance(e, ToolCallEnd)]


@FAST
@given(event_streams())
def test_invariants_2_6_9_chat_and_completions(events: list[Event]) -> None:
    failed = isinstance(events[-1], StreamError)
    for fmt in ("chat", "completions"):
        raw = run(fmt, events)
        assert raw.count(b"data: [DONE]\n\n") == (0 if failed else 1)
        assert raw.endswith(b'"code":"stream_interrupted"}}\n\n' if failed else b"data: [DONE]\n\n")
        frames = [d for _, d in sse(raw)]
        assert sum(1 for f in frames if isinstance(f, dict) and "error" in f) == (
            1 if failed else 0
        )
        if fmt == "chat" and not failed:
            args_by_index: dict[int, str] = {}
            for f in frames[:-1]:
                for choice in f["choices"]:
                    for call in choice["delta"].get("tool_calls", []):
                        args_by_index[call["index"]] = (
                            args_by_index.get(call["index"], "") + call["function"]["arguments"]
                        )
            assert [json.loads(a) for _, a in sorted(args_by_index.items())] == calls_of(events)
            usage = frames[-2]["usage"]
            assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
            assert all(
                isinstance(v, int) and v >= 0 for v in walk(usage) if not isinstance(v, dict)
            )


@FAST
@given(event_streams())
def test_invariants_1_2_6_9_11_anthropic(events: list[Event]) -> None:
    failed = isinstance(events[-1], StreamError)
    frames = sse(run("anthropic", events))
    assert all(name == data["type"] for name, data in frames)
    names = [n for n, _ in frames]
    assert names[0] in ("message_start", "error")
    if failed:
        assert names[-1] == "error" and "message_stop" not in names and "message_delta" not in names
    else:
        assert names[-2:] == ["message_delta", "message_stop"] and names.count("message_stop") == 1
        usage = frames[-2][1]["usage"]
        last_usage = next(e.usage for e in reversed(events) if isinstance(e, UsageUpdate))
        assert usage["input_tokens"] == max(
            0, last_usage.input_total - last_usage.cache_read - last_usage.cache_write
        )
    open_index: int | None = None
    next_index = 0
    partial: dict[int, str] = {}
    for name, data in frames:
        if name == "content_block_start":
            assert open_index is None and data["index"] == next_index
            open_index = data["index"]
            block = data["content_block"]
            if block["type"] == "tool_use":
                partial[open_index] = ""
        elif name == "content_block_delta":
            assert data["index"] == open_index
            delta = data["delta"]
            if delta["type"] == "text_delta":
                assert delta["text"]
            if delta["type"] == "input_json_delta":
                partial[open_index] += delta["partial_json"]
        elif name == "content_block_stop":
            assert data["index"] == open_index
            open_index, next_index = None, next_index + 1
    if not failed:
        assert [json.loads(p or "{}") for _, p in sorted(partial.items())] == calls_of(events)


@FAST
@given(event_streams())
def test_invariants_2_6_11_responses(events: list[Event]) -> None:
    failed = isinstance(events[-1], StreamError)
    frames = sse(run("responses", events))
    assert [d["sequence_number"] for _, d in frames] == list(range(len(frames)))
    terminal = [
        n
        for n, _ in frames
        if n in ("response.completed", "response.incomplete", "response.failed")
    ]
    assert terminal == [frames[-1][0]] and (terminal[0] == "response.failed") == failed
    done = [d["item"] for n, d in frames if n == "response.output_item.done"]
    assert frames[-1][1]["response"]["output"] == done
    calls = [
        json.loads(i["arguments"]) if i["type"] == "function_call" else {"input": i["input"]}
        for i in done
        if i["type"] in ("function_call", "custom_tool_call")
    ]
    if not failed:
        assert calls == calls_of(events)


@FAST
@given(event_streams(), st.booleans())
def test_invariants_2_6_9_gemini(events: list[Event], sse_mode: bool) -> None:
    failed = isinstance(events[-1], StreamError)
    raw = run("gemini", events, sse_mode)
    if sse_mode:
        assert b"event:" not in raw and raw.endswith(b"\r\n\r\n")
        chunks = [json.loads(p[6:]) for p in raw.decode().split("\r\n\r\n") if p]
    else:
        chunks = json.loads(raw)
    assert sum(1 for c in chunks if "error" in c or c["candidates"][0].get("finishReason")) == 1
    assert ("error" in chunks[-1]) == failed
    if not failed:
        meta = chunks[-1]["usageMetadata"]
        assert meta["totalTokenCount"] == meta["promptTokenCount"] + meta[
            "candidatesTokenCount"
        ] + meta.get("thoughtsTokenCount", 0)
        got = [
            p["functionCall"]["args"]
            for c in chunks
            for p in c["candidates"][0]["content"]["parts"]
            if "functionCall" in p
        ]
        assert got == calls_of(events)
        assert all(
            p["functionCall"]["id"]
            for c in chunks
            for p in c["candidates"][0]["content"]["parts"]
            if "functionCall" in p
        )


gemini_parts = st.lists(
    st.one_of(
        st.builds(lambda t: {"text": t}, st.sampled_from(["a", "b"])),
        st.builds(lambda t: {"text": t, "thought": True}, st.sampled_from(["x"])),
        st.builds(lambda n, a: {"functionCall": {"name": n, "args": a}}, tool_names, args),
    ),
    max_size=4,
)


@FAST
@given(
    st.lists(gemini_parts, min_size=1, max_size=3),
    st.sampled_from(["STOP", "MAX_TOKENS", "SAFETY", "OTHER"]),
    st.booleans(),
)
def test_invariants_3_6_8_gemini_decoder(
    chunks: list[list[dict[str, Any]]], finish: str, repeat_id: bool
) -> None:
    payloads: list[Any] = [
        {"candidates": [{"content": {"role": "model", "parts": parts}}]} for parts in chunks
    ]
    if repeat_id:
        for parts in chunks:
            for p in parts:
                if "functionCall" in p:
                    p["functionCall"]["id"] = "call_0"
    payloads.append(
        {
            "candidates": [{"content": {"parts": []}, "finishReason": finish}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2},
        }
    )
    req = Request(model="m", messages=(Message("assistant", (ToolCallPart("call_0", "f", {}),)),))
    events = decode_stream(GeminiStreamDecoder(upstream_ctx(req, "gemini")), payloads)
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    assert all(TOOL_ID.match(s.id) for s in starts) and len({s.id for s in starts}) == len(starts)
    assert "call_0" not in {s.id for s in starts}
    assert all(isinstance(e.arguments, dict) for e in events if isinstance(e, ToolCallEnd))
    fin = events[-1]
    assert isinstance(fin, Finish)
    expected = {
        "STOP": "end_turn",
        "MAX_TOKENS": "max_tokens",
        "SAFETY": "content_filter",
        "OTHER": "other",
    }[finish]
    if starts and expected in ("end_turn", "other"):
        expected = "tool_use"
    assert fin.stop_reason == expected
    assert isinstance(events[-2], UsageUpdate) and events[-2].usage.total == 5


@FAST
@given(
    st.lists(
        st.tuples(
            st.sampled_from([0, 1, None]),
            st.sampled_from(["", "a", "b"]),
            st.sampled_from(['{"', "k", '":1}', ""]),
        ),
        max_size=8,
    ),
    st.sampled_from(["stop", "tool_calls", "length"]),
)
def test_invariants_6_8_chat_decoder(
    fragments: list[tuple[int | None, str, str]], finish: str
) -> None:
    payloads: list[Any] = []
    for index, call_id, piece in fragments:
        call: dict[str, Any] = {"function": {"name": "f", "arguments": piece}}
        if index is not None:
            call["index"] = index
        if call_id:
            call["id"] = call_id
        payloads.append({"id": "x", "choices": [{"index": 0, "delta": {"tool_calls": [call]}}]})
    payloads += [
        {"id": "x", "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
        "[DONE]",
    ]
    events = decode_stream(
        OpenAIChatStreamDecoder(upstream_ctx(Request(model="m", messages=()), "openai")), payloads
    )
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    ends = [e for e in events if isinstance(e, ToolCallEnd)]
    assert [s.index for s in starts] == [e.index for e in ends] == list(range(len(starts)))
    # calls never interleave: each start is followed by its own deltas and end
    current = None
    for e in events:
        if isinstance(e, ToolCallStart):
            assert current is None
            current = e.index
        elif isinstance(e, ToolCallDelta):
            assert e.index == current
        elif isinstance(e, ToolCallEnd):
            assert e.index == current
            current = None
    assert all(isinstance(e.arguments, dict) for e in ends)
    fin = events[-1]
    assert isinstance(fin, Finish)
    if starts and finish != "length":
        assert fin.stop_reason == "tool_use"
    assert len({s.id for s in starts}) == len(starts) and all(
        re.match(TOOL_ID, s.id) for s in starts
    )
