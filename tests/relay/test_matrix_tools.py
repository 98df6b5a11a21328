"""Relay matrix: tool declarations, parallel calls and the follow-up turn with tool results."""

from __future__ import annotations

import re

import pytest

from tests.emulators.script import ToolCall
from tests.relay import matrix_support as ms
from tests.relay.harness import RelayServer
from tests.relay.matrix_clients import Ask, Call, Msg, Result, ask
from tests.relay.matrix_support import ALIAS, STOP_END, STOP_TOOL, UPSTREAM_MODEL, cells, upstream_view

matrix_relay = ms.matrix_relay
mx = ms.mx

TOOL_FORMATS = ("chat", "responses", "anthropic", "gemini")
ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
FOLLOW_UP_ROLES = {
    "openai": ["user", "assistant", "tool", "tool"],
    "anthropic": ["user", "assistant", "user"],
    "gemini": ["user", "model", "user"],
}


@pytest.mark.parametrize(("fmt", "provider", "stream"), cells(TOOL_FORMATS))
def test_parallel_tool_calls(mx: RelayServer, fmt: str, provider: str, stream: bool) -> None:
    emu = mx.emulators[provider]
    emu.reply(
        "Let me check.",
        tool_calls=[ToolCall("get_weather", {"city": "Paris"}), ToolCall("get_time", {"zone": "CET"})],
        arg_chunk=3,
    )
    answer = ask(fmt, mx, ALIAS[provider], Ask([Msg("user", "weather and time in Paris?")], tools=True,
                                                stream=stream))

    assert [(c.name, c.args) for c in answer.calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"zone": "CET"}),
    ]
    ids = [c.id for c in answer.calls]
    if (fmt, provider) != ("gemini", "gemini"):  # Gemini itself omits ids; its fast path is byte for byte
        assert all(ID.match(i) for i in ids) and len(set(ids)) == 2, ids
    assert answer.stop == STOP_TOOL[fmt]
    assert answer.text == "Let me check."
    up = upstream_view(provider, emu.last_request)
    assert up.tools == ["get_weather", "get_time"]
    assert up.model == UPSTREAM_MODEL[provider]


@pytest.mark.parametrize(("fmt", "provider", "stream"), cells(TOOL_FORMATS))
def test_follow_up_with_tool_results(mx: RelayServer, fmt: str, provider: str, stream: bool) -> None:
    emu = mx.emulators[provider]
    emu.reply("Sunny, and it is noon.")
    calls = [Call("call_w1", "get_weather", {"city": "Paris"}), Call("call_t2", "get_time", {"zone": "CET"})]
    conversation = [
        Msg("user", "weather and time in Paris?"),
        Msg("assistant", "", calls=calls),
        Msg("user", results=[Result("call_w1", "get_weather", "sunny 24C"),
                             Result("call_t2", "get_time", "12:00")]),
    ]
    answer = ask(fmt, mx, ALIAS[provider], Ask(conversation, system="Use tools.", tools=True, stream=stream))

    assert answer.text == "Sunny, and it is noon."
    assert answer.stop == STOP_END[fmt]
    assert answer.calls == []
    up = upstream_view(provider, emu.last_request)
    roles = FOLLOW_UP_ROLES[provider]
    assert up.roles == (["system", *roles] if provider == "openai" else roles)
    assert up.system == ["Use tools."]
    assert up.tools == ["get_weather", "get_time"]
    assert [(name, args) for _, name, args in up.calls] == [(c.name, c.args) for c in calls]
    assert [text for _, text in up.results] == ["sunny 24C", "12:00"]
    # every result answers its call, in order
    assert [i for i, _ in up.results] == [i for i, _, _ in up.calls]
    assert all(ID.match(i) for i, _, _ in up.calls)
    assert not emu.saw(mx.api_key)


@pytest.mark.parametrize(("fmt", "provider", "stream"), cells(TOOL_FORMATS))
def test_second_round_of_calls(mx: RelayServer, fmt: str, provider: str, stream: bool) -> None:
    """Upstream ids reused across turns (`call_0`) are replaced; the client never sees a duplicate."""
    emu = mx.emulators[provider]
    emu.reply(tool_calls=[ToolCall("get_time", {"zone": "UTC"}, id="call_0")])
    conversation = [
        Msg("user", "time?"),
        Msg("assistant", calls=[Call("call_0", "get_time", {"zone": "CET"})]),
        Msg("user", results=[Result("call_0", "get_time", "12:00")]),
    ]
    answer = ask(fmt, mx, ALIAS[provider], Ask(conversation, tools=True, stream=stream))
    (call,) = answer.calls
    assert (call.name, call.args) == ("get_time", {"zone": "UTC"})
    assert ID.match(call.id)
    if not ms.fast_path(fmt, provider):  # the fast path passes the upstream's bytes through
        assert call.id != "call_0"
    assert answer.stop == STOP_TOOL[fmt]
