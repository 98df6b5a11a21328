"""Property tests for the hygiene invariants of protocols.md §9 across every converter.

Invariant 10 (schema cleaning) lives in test_schema.py and invariants 1, 3, 4 on the
provider-neutral history also in test_history.py; invariant 12 (credentials) concerns headers,
which no wire converter sees: the bodies built here carry none.
"""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wire_helpers import client_ctx, decode_stream, sse, upstream_ctx

from gephyr_core.wire import anthropic_messages, gemini, openai_chat
from gephyr_core.wire.canonical import (
    ErrorInfo,
    MediaPart,
    Message,
    Part,
    Request,
    Signature,
    TextPart,
    ThinkingConfig,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
    Usage,
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
from gephyr_core.wire.ids import GEMINI_BYPASS_SIGNATURE, GEMINI_NAME, OPENAI_NAME, TOOL_ID
from gephyr_core.wire.openai_chat_stream import OpenAIChatStreamDecoder
from gephyr_core.wire.registry import (
    client_stream_encoder,
    decode_upstream_response,
    encode_upstream_request,
)

FAST = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
PROVIDERS = ("openai", "anthropic", "gemini")
FORMATS = ("chat", "completions", "responses", "anthropic", "gemini")
STOPS = (
    "end_turn",
    "stop_sequence",
    "max_tokens",
    "tool_use",
    "content_filter",
    "context_window_exceeded",
    "pause_turn",
    "other",
)

providers = st.sampled_from(PROVIDERS)
texts = st.sampled_from(["", " ", "hi", "multi\nline", "é😀"])
tool_names = st.sampled_from(["get", "mcp.server:tool", "9lives", "a" * 70, "read_file"])
call_ids = st.sampled_from(["call_0", "toolu_1", "functions.Bash:0", "", "x y", "c" * 70])
sig_values = st.text(alphabet="abcXYZ012_-+/=", min_size=1, max_size=12)
args = st.dictionaries(
    st.sampled_from(["a", "$schema", "default", "format", "nested"]),
    st.one_of(st.integers(), st.text(max_size=5), st.just({"type": "x"})),
    max_size=3,
)
usages = st.builds(Usage, *[st.integers(0, 10_000)] * 5)


@st.composite
def signatures(draw: st.DrawFn) -> Signature | None:
    if draw(st.booleans()):
        return None
    return Signature(draw(providers), draw(sig_values))


@st.composite
def thinking_parts(draw: st.DrawFn) -> ThinkingPart:
    sig = draw(signatures())
    origin = sig.provider if sig else draw(st.sampled_from([*PROVIDERS, "foreign"]))
    redacted = sig is not None and sig.provider == "anthropic" and draw(st.booleans())
    return ThinkingPart("" if redacted else draw(texts), sig, redacted, origin)


@st.composite
def user_parts(draw: st.DrawFn) -> Part:
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return TextPart(draw(texts))
    if kind == 1:
        return MediaPart("image/png", "iVBOR")
    content = tuple(
        draw(
            st.lists(
                st.one_of(st.builds(TextPart, texts), st.just(MediaPart("image/png", "AA"))),
                max_size=2,
            )
        )
    )
    return ToolResultPart(draw(call_ids), draw(tool_names), content, draw(st.booleans()))


@st.composite
def assistant_parts(draw: st.DrawFn) -> Part:
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return TextPart(draw(texts))
    if kind == 1:
        return draw(thinking_parts())
    sig = Signature("gemini", draw(sig_values)) if draw(st.booleans()) else None
    return ToolCallPart(draw(call_ids), draw(tool_names), draw(args), sig)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    messages = []
    for i in range(draw(st.integers(1, 6))):
        strategy = user_parts() if i % 2 == 0 else assistant_parts()
        messages.append(
            Message(
                "user" if i % 2 == 0 else "assistant", tuple(draw(st.lists(strategy, max_size=4)))
            )
        )
    tools = tuple(
        ToolSpec(n, "", {"type": "object", "properties": {"a": {"type": "string"}}})
        for n in draw(st.lists(tool_names, unique=True, max_size=3))
    )
    thinking = draw(
        st.sampled_from([ThinkingConfig(), ThinkingConfig("on"), ThinkingConfig("off")])
    )
    return Request(
        model="gemini-2.5-flash",
        messages=tuple(messages),
        tools=tools,
        thinking=thinking,
        system=tuple(draw(st.lists(texts, max_size=2))),
    )


def walk(value: Any) -> list[Any]:
    out = [value]
    if isinstance(value, dict):
        for v in value.values():
            out += walk(v)
    elif isinstance(value, list):
        for v in value:
            out += walk(v)
    return out


def turns(body: dict[str, Any], provider: str) -> list[tuple[str, list[Any]]]:
    if provider == "gemini":
        return [(c["role"], c["parts"]) for c in body["contents"]]
    out = []
    for m in body["messages"]:
        content = m.get("content")
        out.append((m["role"], content if isinstance(content, list) else [content]))
    return out


def _check_signatures(req: Request, body: dict[str, Any], provider: str) -> None:
    """Invariant 7: no carrier upstream; signatures only toward their minting provider."""
    text = json.dumps(body)
    assert "gph1." not in text
    sigs = {
        p.signature.value
        for m in req.messages
        for p in m.parts
        if isinstance(p, ThinkingPart | ToolCallPart)
        and p.signature
        and p.signature.provider == provider
    }
    if provider == "anthropic":
        kinds = ("thinking", "redacted_thinking")
        sent = {
            b.get("signature") or b.get("data")
            for _, blocks in turns(body, provider)
            for b in blocks
            if isinstance(b, dict) and b.get("type") in kinds
        }
        assert sent <= sigs
    elif provider == "gemini":
        parts = [p for _, ps in turns(body, provider) for p in ps]
        sent = {p["thoughtSignature"] for p in parts if "thoughtSignature" in p}
        assert sent <= sigs | {GEMINI_BYPASS_SIGNATURE}
        assert all("thoughtSignature" in p for p in parts if "functionCall" in p)
    else:
        assert "signature" not in text and "thought" not in text


def _check_no_empties(body: dict[str, Any], provider: str) -> None:
    """Invariant 1: no empty text, part-less message or empty system."""
    for node in walk(body):
        if isinstance(node, dict) and (node.get("type") == "text" or set(node) == {"text"}):
            assert node["text"]
    for role, parts in turns(body, provider):
        assert parts and parts != [None] or (provider == "openai" and role in ("assistant", "tool"))
    if "system" in body:
        assert body["system"]
    if "systemInstruction" in body:
        assert body["systemInstruction"]["parts"]


@FAST
@given(requests(), providers)
def test_invariants_1_3_4_5_7_on_upstream_bodies(req: Request, provider: str) -> None:
    body = encode_upstream_request(provider, req)  # type: ignore[arg-type]
    _check_signatures(req, body, provider)
    _check_no_empties(body, provider)
    # 3, 4, 5: ids valid and unique, each call answered next turn in order, names valid
    name_ok = GEMINI_NAME if provider == "gemini" else OPENAI_NAME
    flat = turns(body, provider)
    seen: set[str] = set()
    for i, (_, parts) in enumerate(flat):
        calls = _calls(parts, provider, body, i)
        for call_id, name in calls:
            assert TOOL_ID.match(call_id) and call_id not in seen and name_ok.match(name)
            seen.add(call_id)
        if calls and provider != "openai":
            assert _answers(flat, i, provider) == [c[0] for c in calls]


def _calls(parts: list[Any], provider: str, body: dict[str, Any], i: int) -> list[tuple[str, str]]:
    if provider == "gemini":
        return [
            (p["functionCall"]["id"], p["functionCall"]["name"])
            for p in parts
            if "functionCall" in p
        ]
    if provider == "anthropic":
        return [
            (b["id"], b["name"])
            for b in parts
            if isinstance(b, dict) and b.get("type") == "tool_use"
        ]
    message = body["messages"][i]
    return [(c["id"], c["function"]["name"]) for c in message.get("tool_calls", [])]


def _answers(flat: list[tuple[str, list[Any]]], i: int, provider: str) -> list[str]:
    if provider == "gemini":
        role, parts = flat[i + 1]
        assert role == "user"
        ids = [p["functionResponse"]["id"] for p in parts if "functionResponse" in p]
        assert parts[: len(ids)] == [p for p in parts if "functionResponse" in p]
        return ids
    if provider == "anthropic":
        role, blocks = flat[i + 1]
        results = [b for b in blocks if b.get("type") == "tool_result"]
        assert role == "user" and blocks[: len(results)] == results
        return [b["tool_use_id"] for b in results]
    return []  # chat pairing is checked on whole messages in the next test


@FAST
@given(requests())
def test_invariant_4_chat_tool_messages_follow_calls(req: Request) -> None:
    body = openai_chat.encode_request(req)
    messages = body["messages"]
    for i, m in enumerate(messages):
        calls = [c["id"] for c in m.get("tool_calls", [])]
        if calls:
            following = [
                x["tool_call_id"]
                for x in messages[i + 1 : i + 1 + len(calls)]
                if x["role"] == "tool"
            ]
            assert following == calls


@FAST
@given(requests(), providers)
def test_invariant_5_returned_names_map_back(req: Request, provider: str) -> None:
    body = encode_upstream_request(provider, req)  # type: ignore[arg-type]
    if not req.tools:
        return
    if provider == "gemini":
        upstream = body["tools"][0]["functionDeclarations"][0]["name"]
        answer: dict[str, Any] = {
            "candidates": [
                {
                    "content": {"parts": [{"functionCall": {"name": upstream, "args": {}}}]},
                    "finishReason": "STOP",
                }
            ]
        }
    elif provider == "anthropic":
        upstream = body["tools"][0]["name"]
        answer = {
            "content": [{"type": "tool_use", "id": "toolu_x", "name": upstream, "input": {}}],
            "stop_reason": "tool_use",
        }
    else:
        upstream = body["tools"][0]["function"]["name"]
        answer = {
            "choices": [
                {
                    "message": {
                        "tool_calls": [{"id": "c", "function": {"name": upstream, "arguments": ""}}]
                    },
                    "finish_reason": "tool_calls",
                }
            ]
        }
    resp = decode_upstream_response(provider, answer, upstream_ctx(req, provider))  # type: ignore[arg-type]
    call = resp.parts[0]
    assert isinstance(call, ToolCallPart) and call.name == req.tools[0].name
    assert resp.stop_reason == "tool_use"


# ------------------------------------------------------------------ streams


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


@FAST
@given(requests())
def test_invariant_10_history_arguments_never_cleaned(req: Request) -> None:
    body = gemini.encode_request(req)
    sent = [
        p["functionCall"]["args"]
        for c in body["contents"]
        for p in c["parts"]
        if "functionCall" in p
    ]
    original = [
        p.arguments
        for m in req.messages
        if m.role == "assistant"
        for p in m.parts
        if isinstance(p, ToolCallPart)
    ]
    assert sent == original
    assert anthropic_messages.encode_request(req) is not None
