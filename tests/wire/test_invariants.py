"""Property tests for the hygiene invariants of protocols.md §9 across every converter.

Stream invariants (2, 6, 8, 9, 11) are in test_invariants_streams.py; invariant 10 also in
test_schema.py; invariants 1, 3, 4 on the provider-neutral history also in test_history.py.
Invariant 12 (credentials) concerns headers, which no wire converter sees.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wire_helpers import upstream_ctx

from gephyr_core.wire import anthropic_messages, gemini, openai_chat
from gephyr_core.wire.canonical import (
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
from gephyr_core.wire.ids import GEMINI_BYPASS_SIGNATURE, GEMINI_NAME, OPENAI_NAME, TOOL_ID
from gephyr_core.wire.registry import (
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
