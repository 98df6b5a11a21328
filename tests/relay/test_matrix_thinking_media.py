"""Relay matrix: thinking / reasoning, inline images in user turns and in tool results."""

from __future__ import annotations

import base64

import pytest

from tests.emulators.script import ToolCall, Usage
from tests.relay import matrix_support as ms
from tests.relay.harness import RelayServer
from tests.relay.matrix_clients import Ask, Call, Msg, Result, ask, client_for
from tests.relay.matrix_support import ALIAS, STOP_END, STOP_TOOL, cells, upstream_view

matrix_relay = ms.matrix_relay
mx = ms.mx

THINKING_FORMATS = ("chat", "responses", "anthropic", "gemini")
THOUGHT = "Two plus two is four."


@pytest.mark.parametrize(("fmt", "provider", "stream"), cells(THINKING_FORMATS))
def test_thinking(mx: RelayServer, fmt: str, provider: str, stream: bool) -> None:
    emu = mx.emulators[provider]
    emu.reply("It is 4.", thinking=THOUGHT, usage=Usage(input=10, output=40, reasoning=25))
    answer = ask(fmt, mx, ALIAS[provider], Ask([Msg("user", "2+2?")], thinking=True, stream=stream))

    assert answer.thinking == THOUGHT
    assert answer.text == "It is 4."
    assert answer.stop == STOP_END[fmt]
    assert upstream_view(provider, emu.last_request).thinking
    # anthropic reports no reasoning count: its output tokens are all the client learns
    reasoning = 0 if provider == "anthropic" else 25
    if fmt == "gemini":
        assert (answer.usage["output"], answer.usage["reasoning"]) == (40 - reasoning, reasoning or None)
    elif fmt != "anthropic":
        assert (answer.usage["output"], answer.usage["reasoning"]) == (40, reasoning)
    else:
        assert answer.usage["output"] == 40


@pytest.mark.parametrize(("fmt", "provider", "stream"), cells(("completions",)))
def test_completions_drop_thinking(mx: RelayServer, fmt: str, provider: str, stream: bool) -> None:
    mx.emulators[provider].reply("It is 4.", thinking=THOUGHT)
    answer = ask(fmt, mx, ALIAS[provider], Ask([Msg("user", "2+2?")], stream=stream))
    assert answer.text == "It is 4."


@pytest.mark.parametrize(("fmt", "provider", "stream"), cells(THINKING_FORMATS))
def test_inline_image_in_user_turn(mx: RelayServer, fmt: str, provider: str, stream: bool) -> None:
    emu = mx.emulators[provider]
    answer = ask(fmt, mx, ALIAS[provider], Ask([Msg("user", "what is this", image=True)], stream=stream))
    assert answer.text == "echo: what is this"
    up = upstream_view(provider, emu.last_request)
    assert (up.images, up.result_images) == (1, 0)
    assert up.texts == ["what is this"]
    assert _image_bytes(fmt, provider) in emu.last_request.raw_body


@pytest.mark.parametrize(("fmt", "provider", "stream"), cells(("responses", "anthropic", "gemini")))
def test_image_in_tool_result(mx: RelayServer, fmt: str, provider: str, stream: bool) -> None:
    emu = mx.emulators[provider]
    emu.reply("A red dot.")
    conversation = [
        Msg("user", "take a screenshot"),
        Msg("assistant", calls=[Call("call_s1", "get_weather", {"city": "Oslo"})]),
        Msg("user", results=[Result("call_s1", "get_weather", "screenshot attached", image=True)]),
    ]
    answer = ask(fmt, mx, ALIAS[provider], Ask(conversation, tools=True, stream=stream))
    assert answer.text == "A red dot."
    up = upstream_view(provider, emu.last_request)
    assert [text for _, text in up.results] == ["screenshot attached"]
    if provider == "openai":  # chat tool messages are text-only: the image follows in a user message
        assert (up.images, up.roles[-1]) == (1, "user")
    elif fmt == "gemini" and provider == "anthropic":
        assert up.images + up.result_images == 1
    else:
        assert (up.images, up.result_images) == (0, 1)
    assert _image_bytes(fmt, provider) in emu.last_request.raw_body


def _image_bytes(fmt: str, provider: str) -> bytes:
    """google-genai sends base64url: kept on its fast path, standard base64 for the others."""
    if (fmt, provider) == ("gemini", "gemini"):
        return base64.urlsafe_b64encode(ms.PNG)
    return ms.PNG_B64.encode()


@pytest.mark.parametrize("provider", ms.PROVIDERS)
def test_thinking_with_tool_call_then_follow_up(mx: RelayServer, provider: str) -> None:
    """An Anthropic client keeps thinking across a tool loop; signatures go home unaltered."""
    emu = mx.emulators[provider]
    signatures = {"openai": None, "anthropic": "EqMBsigAnthropic0001", "gemini": "CiQBsigGemini0001"}
    native_sig = signatures[provider]
    emu.reply(thinking="I need the weather.", signature=native_sig,
              tool_calls=[ToolCall("get_weather", {"city": "Rome"})])
    tools = [{"name": "get_weather", "input_schema": ms.TOOLS["get_weather"]}]
    thinking_on = {"type": "enabled", "budget_tokens": 1024}
    with client_for("anthropic", mx) as client:
        first = client.client.messages.create(
            model=ALIAS[provider], max_tokens=2048, thinking=thinking_on, tools=tools,
            messages=[{"role": "user", "content": "weather in Rome?"}],
        )
        assert first.stop_reason == STOP_TOOL["anthropic"]
        assert [b.type for b in first.content] == ["thinking", "tool_use"]
        thinking, call = first.content
        assert thinking.thinking == "I need the weather." and thinking.signature
        emu.reply("Sunny in Rome.")
        second = client.client.messages.create(
            model=ALIAS[provider], max_tokens=2048, thinking=thinking_on, tools=tools,
            messages=[
                {"role": "user", "content": "weather in Rome?"},
                {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
                {"role": "user",
                 "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}]},
            ],
        )
    assert second.content[0].text == "Sunny in Rome."  # type: ignore[union-attr]
    request = emu.last_request
    assert b"gph1." not in request.raw_body  # carriers never go upstream
    up = upstream_view(provider, request)
    assert [name for _, name, _ in up.calls] == ["get_weather"] and [t for _, t in up.results] == ["sunny"]
    if provider == "anthropic":  # the original block goes back byte for byte
        assert thinking.signature == native_sig
        assert request.body["messages"][1]["content"][0] == {
            "type": "thinking", "thinking": "I need the weather.", "signature": native_sig}
    elif provider == "gemini":  # the signature returns on its call, unaltered
        model_turn = next(c for c in request.body["contents"] if c["role"] == "model")
        assert model_turn["parts"][0]["thoughtSignature"] == native_sig
    else:  # openai-origin reasoning is replayed as reasoning_content
        assistant = next(m for m in request.body["messages"] if m["role"] == "assistant")
        assert assistant.get("reasoning_content") == "I need the weather."
