"""Relay matrix: plain text, max-tokens truncation and usage, every client format × upstream kind."""

from __future__ import annotations

import pytest

from tests.emulators.script import Usage
from tests.relay import matrix_support as ms
from tests.relay.harness import RelayServer
from tests.relay.matrix_clients import Ask, Msg, ask
from tests.relay.matrix_support import (
    ALIAS,
    STOP_END,
    STOP_MAX,
    UPSTREAM_MODEL,
    Canon,
    cells,
    expected_usage,
    fast_path,
    upstream_view,
)

matrix_relay = ms.matrix_relay
mx = ms.mx

USAGE = Canon(input=1000, output=50, cache_read=800)


@pytest.mark.parametrize(("fmt", "provider", "stream"), cells())
def test_plain_text(mx: RelayServer, fmt: str, provider: str, stream: bool) -> None:
    emu = mx.emulators[provider]
    emu.reply("Hello from the upstream.", usage=Usage(input=1000, output=50, cache_read=800))
    system = None if fmt == "completions" else "Be brief."
    answer = ask(fmt, mx, ALIAS[provider], Ask([Msg("user", "say hello")], system=system, stream=stream))

    assert answer.text == "Hello from the upstream."
    assert answer.stop == STOP_END[fmt]
    assert answer.usage == expected_usage(fmt, USAGE)
    # a translated answer carries the client's model name; the fast path is byte for byte
    assert answer.model == (UPSTREAM_MODEL[provider] if fast_path(fmt, provider) else ALIAS[provider])
    if not fast_path(fmt, provider):
        prefix = {"chat": "chatcmpl-", "completions": "cmpl-", "responses": "resp_", "anthropic": "msg_"}
        assert answer.id.startswith(prefix.get(fmt, ""))

    (request,) = ms.generations(emu)
    up = upstream_view(provider, request)
    assert up.model == UPSTREAM_MODEL[provider]
    assert up.texts == ["say hello"]
    assert up.system == ([] if system is None else [system])
    assert up.roles == {"openai": ["system", "user"] if system else ["user"],
                        "anthropic": ["user"], "gemini": ["user"]}[provider]
    assert not any(e.saw(mx.api_key) for e in mx.emulators.values())
    if provider == "openai" and stream:
        assert request.body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(("fmt", "provider", "stream"), cells())
def test_max_tokens_truncation(mx: RelayServer, fmt: str, provider: str, stream: bool) -> None:
    emu = mx.emulators[provider]
    emu.reply("one two three four five six seven eight nine ten")
    answer = ask(fmt, mx, ALIAS[provider], Ask([Msg("user", "count")], max_tokens=4, stream=stream))

    assert answer.text == "one two three four"
    assert answer.stop == STOP_MAX[fmt]
    out = answer.usage["output"]
    assert out == 4
    up = upstream_view(provider, emu.last_request)
    assert up.max_tokens == 4


@pytest.mark.parametrize(("fmt", "provider", "stream"), cells())
def test_cache_write_usage(mx: RelayServer, fmt: str, provider: str, stream: bool) -> None:
    """Cache reads and writes sit inside the input total; anthropic input excludes both."""
    write = 0 if provider == "gemini" else 10  # gemini reports no cache writes
    mx.emulators[provider].reply("alpha beta gamma", usage=Usage(input=120, output=30, cache_read=20,
                                                                 cache_write=write))
    answer = ask(fmt, mx, ALIAS[provider], Ask([Msg("user", "go")], stream=stream))
    assert answer.text == "alpha beta gamma"
    assert answer.usage == expected_usage(fmt, Canon(input=120, output=30, cache_read=20, cache_write=write))


def test_echo_without_script_counts_words(mx: RelayServer) -> None:
    for fmt in ms.FORMATS:
        answer = ask(fmt, mx, ALIAS["gemini"], Ask([Msg("user", "one two three")], stream=True))
        assert answer.text == "echo: one two three"
        assert answer.usage["output"] == 4
