"""OpenAI Responses (client format): decode, non-stream and stream encode (§2.3, §5.2, §6)."""

from __future__ import annotations

from typing import Any

import pytest
from wire_helpers import CREATED, client_ctx, encode_stream, sse

from gephyr_core.wire import carrier
from gephyr_core.wire import openai_responses as orsp
from gephyr_core.wire.canonical import (
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
)
from gephyr_core.wire.openai_responses_stream import OpenAIResponsesStreamEncoder

FN = {"type": "object", "properties": {"cmd": {"type": "string"}}}


def codex_body() -> dict[str, Any]:
    thought = ThinkingPart("plan", Signature("anthropic", "AS"), False, "anthropic")
    return {
        "model": "gpt-5-codex",
        "instructions": "You are Codex.",
        "input": [
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "dev"}],
            },
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "run ls"},
                    {"type": "input_image", "image_url": "data:image/jpeg;base64,JJ"},
                ],
            },
            {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "plan"}],
                "encrypted_content": carrier.encode_carrier("anthropic", [thought]),
            },
            {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "native openai"}],
                "encrypted_content": "opaque",
            },
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "shell",
                "arguments": '{"cmd":"ls"}',
            },
            {
                "type": "custom_tool_call",
                "call_id": "call_2",
                "name": "apply_patch",
                "input": "*** Begin",
            },
            {
                "type": "function_call",
                "call_id": "call_3",
                "name": "search",
                "namespace": "mcp",
                "arguments": "{}",
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "a.txt"},
            {
                "type": "custom_tool_call_output",
                "call_id": "call_2",
                "output": [{"type": "input_text", "text": "ok"}],
            },
            {"type": "function_call_output", "call_id": "call_3", "output": "found"},
            {"type": "item_reference", "id": "x"},
            {
                "type": "additional_tools",
                "tools": [{"type": "function", "name": "late", "parameters": FN}],
            },
        ],
        "tools": [
            {
                "type": "function",
                "name": "shell",
                "description": "run",
                "parameters": FN,
                "strict": False,
            },
            {"type": "custom", "name": "apply_patch", "description": "patch"},
            {
                "type": "namespace",
                "name": "mcp",
                "tools": [{"type": "function", "name": "search", "parameters": FN}],
            },
            {"type": "web_search"},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "reasoning": {"effort": "high", "summary": "auto"},
        "text": {"format": {"type": "json_schema", "name": "out", "schema": FN, "strict": True}},
        "include": ["reasoning.encrypted_content"],
        "store": False,
        "stream": True,
        "max_output_tokens": 300,
        "safety_identifier": "sid",
    }


def test_decode_request_golden() -> None:
    assert orsp.decode_request(codex_body()) == Request(
        model="gpt-5-codex",
        system=("You are Codex.", "dev"),
        messages=(
            Message("user", (TextPart("run ls"), MediaPart("image/jpeg", "JJ"))),
            Message(
                "assistant",
                (
                    ThinkingPart("plan", Signature("anthropic", "AS"), False, "anthropic"),
                    ThinkingPart("native openai", None, False, "foreign"),
                    ToolCallPart("call_1", "shell", {"cmd": "ls"}),
                    ToolCallPart("call_2", "apply_patch", {"input": "*** Begin"}),
                    ToolCallPart("call_3", "mcp__search", {}),
                ),
            ),
            Message(
                "user",
                (
                    ToolResultPart("call_1", "shell", (TextPart("a.txt"),)),
                    ToolResultPart("call_2", "apply_patch", (TextPart("ok"),)),
                    ToolResultPart("call_3", "mcp__search", (TextPart("found"),)),
                ),
            ),
        ),
        tools=(
            ToolSpec("shell", "run", FN, False, ToolOrigin("function", None, "shell")),
            ToolSpec(
                "apply_patch",
                "patch",
                orsp.CUSTOM_SCHEMA,
                None,
                ToolOrigin("custom", None, "apply_patch"),
            ),
            ToolSpec("mcp__search", "", FN, None, ToolOrigin("function", "mcp", "search")),
            ToolSpec("late", "", FN, None, ToolOrigin("function", None, "late")),
        ),
        tool_choice=ToolChoice("auto"),
        parallel_tool_calls=True,
        params=Params(max_output_tokens=300),
        thinking=ThinkingConfig("on", effort="high"),
        output_format=OutputFormat("json_schema", "out", FN, True),
        stream=True,
        stream_usage=True,
        user="sid",
        client_format="responses",
        include_carriers=True,
    )


def test_decode_string_input_and_no_carriers() -> None:
    req = orsp.decode_request({"model": "m", "input": "hi", "reasoning": {"effort": "none"}})
    assert req.messages == (Message("user", (TextPart("hi"),)),)
    assert req.thinking == ThinkingConfig("off") and req.include_carriers is False


@pytest.mark.parametrize(
    "patch",
    [
        {"previous_response_id": "resp_1"},
        {"conversation": "c"},
        {"background": True},
        {"model": 3},
        {"input": [{"role": "tool", "content": "x"}]},
        {"input": [{"type": "function_call", "name": "f"}]},
    ],
)
def test_decode_errors(patch: dict[str, Any]) -> None:
    with pytest.raises(WireError) as info:
        orsp.decode_request({"model": "m", "input": "x"} | patch)
    assert info.value.info().status == 400


def ctx_request() -> Request:
    return orsp.decode_request(codex_body())


def test_encode_response_golden() -> None:
    req = ctx_request()
    thought = ThinkingPart("plan", Signature("anthropic", "AS"), False, "anthropic")
    resp = Response(
        "x",
        "y",
        (
            thought,
            TextPart("done"),
            ToolCallPart("call_9", "mcp__search", {"q": 1}),
            ToolCallPart("call_8", "apply_patch", {"input": "diff"}),
        ),
        "max_tokens",
        None,
        Usage(100, 40, 0, 20, 5),
    )
    body = orsp.encode_response(resp, client_ctx(req))
    ids = [item["id"] for item in body["output"]]
    assert [i[:3] for i in ids] == ["rs_", "msg", "fc_", "fc_"]
    assert body["id"].startswith("resp_") and body["created_at"] == CREATED
    assert body["output"] == [
        {
            "type": "reasoning",
            "id": ids[0],
            "summary": [{"type": "summary_text", "text": "plan"}],
            "encrypted_content": carrier.encode_carrier("anthropic", [thought]),
        },
        {
            "type": "message",
            "id": ids[1],
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "done", "annotations": []}],
        },
        {
            "type": "function_call",
            "id": ids[2],
            "call_id": "call_9",
            "name": "search",
            "namespace": "mcp",
            "arguments": '{"q":1}',
            "status": "completed",
        },
        {
            "type": "custom_tool_call",
            "id": ids[3],
            "call_id": "call_8",
            "name": "apply_patch",
            "input": "diff",
            "status": "completed",
        },
    ]
    assert (body["status"], body["incomplete_details"]) == (
        "incomplete",
        {"reason": "max_output_tokens"},
    )
    assert body["usage"] == {
        "input_tokens": 100,
        "input_tokens_details": {"cached_tokens": 40},
        "output_tokens": 20,
        "output_tokens_details": {"reasoning_tokens": 5},
        "total_tokens": 120,
    }
    assert (
        body["model"] == "gpt-5-codex"
        and body["store"] is False
        and body["instructions"] == "You are Codex.\n\ndev"
    )


def test_encode_response_without_carriers() -> None:
    req = orsp.decode_request({"model": "m", "input": "x"})
    resp = Response(
        "x", "y", (ThinkingPart("t", Signature("anthropic", "S"), False, "anthropic"),), "end_turn"
    )
    assert "encrypted_content" not in orsp.encode_response(resp, client_ctx(req))["output"][0]


def test_stream_golden_sequence() -> None:
    req = ctx_request()
    frames = sse(
        encode_stream(
            OpenAIResponsesStreamEncoder(client_ctx(req)),
            [
                Start("u", "m", "anthropic"),
                ThinkingDelta("pl"),
                ThinkingDelta("an"),
                SignatureDelta(Signature("anthropic", "AS")),
                TextDelta("ok"),
                ToolCallStart(0, "call_1", "shell"),
                ToolCallDelta(0, '{"cmd":'),
                ToolCallDelta(0, '"ls"}'),
                ToolCallEnd(0, {"cmd": "ls"}),
                ToolCallStart(1, "call_2", "apply_patch"),
                ToolCallDelta(1, '{"input":"p"}'),
                ToolCallEnd(1, {"input": "p"}),
                UsageUpdate(Usage(10, 0, 0, 5, 0)),
                Finish("tool_use"),
            ],
        )
    )
    names = [name for name, _ in frames]
    assert names == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.output_item.done",
        "response.completed",
    ]
    assert all(data["type"] == name for name, data in frames)
    assert [data["sequence_number"] for _, data in frames] == list(range(len(frames)))
    done_items = [data["item"] for name, data in frames if name == "response.output_item.done"]
    final = frames[-1][1]["response"]
    assert final["output"] == done_items and final["status"] == "completed"
    assert done_items[0]["encrypted_content"] == carrier.encode_carrier(
        "anthropic", [ThinkingPart("plan", Signature("anthropic", "AS"), False, "anthropic")]
    )
    assert [d["output_index"] for n, d in frames if n == "response.output_item.added"] == [
        0,
        1,
        2,
        3,
    ]
    assert done_items[3] == {
        "type": "custom_tool_call",
        "id": done_items[3]["id"],
        "call_id": "call_2",
        "name": "apply_patch",
        "input": "p",
        "status": "completed",
    }
    assert (
        frames[0][1]["response"]["status"] == "in_progress"
        and frames[0][1]["response"]["output"] == []
    )


def test_stream_failure_ends_with_response_failed() -> None:
    req = ctx_request()
    enc = OpenAIResponsesStreamEncoder(client_ctx(req))
    frames = sse(
        encode_stream(
            enc,
            [
                Start("u", "m", "openai"),
                TextDelta("partial"),
                StreamError(ErrorInfo("rate_limited", 429, "slow down")),
                Finish("end_turn"),
            ],
        )
    )
    assert [n for n, _ in frames][-2:] == ["error", "response.failed"]
    assert frames[-2][1] | {"sequence_number": 0} == {
        "type": "error",
        "code": "rate_limit_exceeded",
        "message": "slow down",
        "param": None,
        "sequence_number": 0,
    }
    failed = frames[-1][1]["response"]
    assert failed["status"] == "failed" and failed["error"] == {
        "code": "rate_limit_exceeded",
        "message": "slow down",
    }
    assert failed["output"] == []  # the open message item was never done
    assert not any(n == "response.completed" for n, _ in frames) and enc.done
