"""Dispatch by format/provider, the package's public names, and a cross-format round trip."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from wire_helpers import client_ctx, decode_stream, encode_stream, sse, upstream_ctx

import gephyr_core.wire as wire
from gephyr_core.wire import carrier
from gephyr_core.wire.canonical import Signature, ThinkingPart
from gephyr_core.wire.errors import WireError
from gephyr_core.wire.registry import (
    client_stream_encoder,
    decode_client_request,
    decode_upstream_response,
    encode_client_response,
    encode_upstream_request,
    upstream_stream_decoder,
)


def test_public_names_are_exported() -> None:
    assert sorted(wire.__all__) == wire.__all__
    for name in wire.__all__:
        assert getattr(wire, name) is not None


@pytest.mark.parametrize(
    ("fmt", "body"),
    [
        ("chat", {"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
        ("completions", {"model": "m", "prompt": "hi"}),
        ("responses", {"model": "m", "input": "hi"}),
        (
            "anthropic",
            {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
        ),
        ("gemini", {"contents": [{"parts": [{"text": "hi"}]}]}),
    ],
)
def test_decode_client_request_dispatch(fmt: str, body: dict[str, object]) -> None:
    req = decode_client_request(fmt, body, model="m")  # type: ignore[arg-type]
    assert req.model == "m" and req.client_format == fmt
    assert req.messages[0].parts[0] == wire.TextPart("hi")


def test_count_tokens_flag_relaxes_max_tokens() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(WireError):
        decode_client_request("anthropic", body)
    assert decode_client_request("anthropic", body, count_tokens=True).model == "m"


def test_anthropic_client_through_gemini_and_back() -> None:
    """Claude Code style tool loop served by a gemini account: signatures survive the trip."""
    body = {
        "model": "claude-x",
        "max_tokens": 256,
        "tools": [
            {
                "name": "Bash",
                "input_schema": {"type": "object", "properties": {"cmd": {"type": "string"}}},
            }
        ],
        "messages": [{"role": "user", "content": "list files"}],
    }
    req = decode_client_request("anthropic", body)
    upstream_req = replace(req, model="gemini-2.5-flash")
    sent = encode_upstream_request("gemini", upstream_req)
    assert sent["tools"][0]["functionDeclarations"][0]["name"] == "Bash"
    chunks = [
        {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": "plan", "thought": True}]}}
            ]
        },
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {
                                "functionCall": {"name": "Bash", "args": {"cmd": "ls"}},
                                "thoughtSignature": "GEMSIG",
                            }
                        ],
                    },
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 20,
                "candidatesTokenCount": 5,
                "thoughtsTokenCount": 2,
            },
        },
    ]
    decoder = upstream_stream_decoder("gemini", upstream_ctx(req, "gemini"))
    events = decode_stream(decoder, chunks)
    frames = sse(encode_stream(client_stream_encoder("anthropic", client_ctx(req)), events))
    blocks = [d["content_block"] for n, d in frames if n == "content_block_start"]
    assert [b["type"] for b in blocks] == ["thinking", "tool_use"]
    signature = next(
        d["delta"]["signature"]
        for n, d in frames
        if n == "content_block_delta" and d["delta"]["type"] == "signature_delta"
    )
    assert frames[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert frames[-2][1]["usage"]["output_tokens"] == 7

    # the client replays the turn; the gemini signature goes back on the call, natively
    replay = dict(body)
    replay["messages"] = [
        {"role": "user", "content": "list files"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "plan", "signature": signature},
                {"type": "tool_use", "id": blocks[1]["id"], "name": "Bash", "input": {"cmd": "ls"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": blocks[1]["id"], "content": "a.txt"}
            ],
        },
    ]
    again = replace(decode_client_request("anthropic", replay), model="gemini-2.5-flash")
    contents = encode_upstream_request("gemini", again)["contents"]
    assert contents[1]["parts"] == [
        {
            "functionCall": {"id": blocks[1]["id"], "name": "Bash", "args": {"cmd": "ls"}},
            "thoughtSignature": "GEMSIG",
        }
    ]
    assert contents[2]["parts"][0]["functionResponse"]["response"] == {"output": "a.txt"}
    # and toward anthropic the foreign thinking is dropped, never forged
    to_claude = encode_upstream_request("anthropic", replace(again, model="claude-x"))
    assert "gph1." not in json.dumps(to_claude) and "GEMSIG" not in json.dumps(to_claude)


def test_non_stream_encoders_dispatch() -> None:
    req = decode_client_request(
        "chat", {"model": "client", "messages": [{"role": "user", "content": "x"}]}
    )
    answer = {
        "content": [
            {"type": "thinking", "thinking": "t", "signature": "S"},
            {"type": "text", "text": "ok"},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    resp = decode_upstream_response("anthropic", answer, upstream_ctx(req, "anthropic"))
    bodies = {
        fmt: encode_client_response(fmt, resp, client_ctx(req))  # type: ignore[arg-type]
        for fmt in ("chat", "completions", "responses", "anthropic", "gemini")
    }
    assert bodies["chat"]["choices"][0]["message"]["thinking_blocks"] == [
        {"type": "thinking", "thinking": "t", "signature": "S"}
    ]
    assert bodies["completions"]["choices"][0]["text"] == "ok"
    assert bodies["responses"]["output"][0]["type"] == "reasoning"
    assert bodies["anthropic"]["content"][0] == {
        "type": "thinking",
        "thinking": "t",
        "signature": "S",
    }
    assert bodies["gemini"]["candidates"][0]["content"]["parts"] == [
        {"text": "t", "thought": True},
        {"text": "ok"},
    ]
    part = ThinkingPart("t", Signature("anthropic", "S"), False, "anthropic")
    assert carrier.write_slot(part, "anthropic") == "S"
