"""The official anthropic SDK against the Anthropic emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest

from tests.emulators.anthropic_api import API_KEY
from tests.emulators.script import Emulator, Error, ToolCall, Usage

MESSAGES: list[Any] = [{"role": "user", "content": "hello there"}]
THINKING: Any = {"type": "enabled", "budget_tokens": 1024}


@pytest.fixture
def client(anthropic_emulator: Emulator) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=anthropic_emulator.url, api_key=API_KEY, max_retries=0) as c:
        yield c


def test_default_echo(client: anthropic.Anthropic, anthropic_emulator: Emulator) -> None:
    message = client.messages.create(model="claude-x", max_tokens=64, messages=MESSAGES)
    assert message.content[0].type == "text"
    assert message.content[0].text == "echo: hello there"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (2, 3)
    assert message.id.startswith("msg_")
    sent = anthropic_emulator.last_request
    assert sent.path == "/v1/messages"
    assert sent.header("anthropic-version")


def test_stream_thinking_text_and_tool(client: anthropic.Anthropic, anthropic_emulator: Emulator) -> None:
    anthropic_emulator.reply(
        "Let me check.",
        thinking="The user wants weather.",
        signature="sig-abc",
        tool_calls=[ToolCall("get_weather", {"city": "Paris", "days": 3})],
        arg_chunk=5,
    )
    with client.messages.stream(
        model="claude-x", max_tokens=2048, messages=MESSAGES, thinking=THINKING
    ) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_message()
    assert [block.type for block in final.content] == ["thinking", "text", "tool_use"]
    thinking, text, tool = final.content
    assert thinking.type == "thinking" and thinking.thinking == "The user wants weather."
    assert thinking.signature == "sig-abc"
    assert text.type == "text" and text.text == "Let me check."
    assert tool.type == "tool_use" and tool.input == {"city": "Paris", "days": 3}
    assert tool.id.startswith("toolu_")
    assert final.stop_reason == "tool_use"
    assert "message_stop" in events


def test_thinking_hidden_unless_enabled(client: anthropic.Anthropic, anthropic_emulator: Emulator) -> None:
    anthropic_emulator.reply("answer", thinking="secret musings")
    message = client.messages.create(model="claude-x", max_tokens=64, messages=MESSAGES)
    assert [b.type for b in message.content] == ["text"]


def test_stream_usage_and_cache(client: anthropic.Anthropic, anthropic_emulator: Emulator) -> None:
    anthropic_emulator.reply("hi", usage=Usage(input=1000, output=20, cache_read=900, cache_write=50))
    with client.messages.stream(model="claude-x", max_tokens=64, messages=MESSAGES) as stream:
        final = stream.get_final_message()
    usage = final.usage
    assert usage.input_tokens == 50
    assert usage.cache_read_input_tokens == 900
    assert usage.cache_creation_input_tokens == 50
    assert usage.output_tokens == 20


def test_max_tokens_and_stop_sequence(client: anthropic.Anthropic, anthropic_emulator: Emulator) -> None:
    anthropic_emulator.reply("a b c d e")
    message = client.messages.create(model="claude-x", max_tokens=2, messages=MESSAGES)
    assert message.stop_reason == "max_tokens"
    assert message.content[0].type == "text" and message.content[0].text == "a b"
    anthropic_emulator.reply("alpha STOP beta")
    message = client.messages.create(
        model="claude-x", max_tokens=64, messages=MESSAGES, stop_sequences=["STOP"]
    )
    assert message.stop_reason == "stop_sequence"
    assert message.stop_sequence == "STOP"


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (400, anthropic.BadRequestError),
        (401, anthropic.AuthenticationError),
        (403, anthropic.PermissionDeniedError),
        (404, anthropic.NotFoundError),
        (429, anthropic.RateLimitError),
        (500, anthropic.InternalServerError),
        (529, anthropic.OverloadedError),
    ],
)
def test_errors_are_typed(
    client: anthropic.Anthropic,
    anthropic_emulator: Emulator,
    status: int,
    exception: type[anthropic.APIStatusError],
) -> None:
    anthropic_emulator.push(Error(status, retry_after=3))
    with pytest.raises(exception) as caught:
        client.messages.create(model="claude-x", max_tokens=64, messages=MESSAGES)
    assert caught.value.status_code == status
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert caught.value.response.headers["retry-after"] == "3"
    assert caught.value.response.headers["request-id"].startswith("req_")


def test_overloaded_error_type(client: anthropic.Anthropic, anthropic_emulator: Emulator) -> None:
    anthropic_emulator.push(Error(529))
    with pytest.raises(anthropic.OverloadedError) as caught:
        client.messages.create(model="claude-x", max_tokens=64, messages=MESSAGES)
    body: Any = caught.value.body
    assert body["error"] == {"type": "overloaded_error", "message": "Overloaded"}


def test_in_band_stream_error(client: anthropic.Anthropic, anthropic_emulator: Emulator) -> None:
    anthropic_emulator.reply("one two three", error_after=4, stream_error=Error(529))
    with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
        with client.messages.stream(model="claude-x", max_tokens=64, messages=MESSAGES) as s:
            s.get_final_message()


def test_dropped_stream(client: anthropic.Anthropic, anthropic_emulator: Emulator) -> None:
    anthropic_emulator.reply("one two three", drop_after=3)
    # The SDK surfaces the transport's own error for a body cut mid-stream.
    with pytest.raises((anthropic.APIConnectionError, httpx2.RemoteProtocolError)):
        with client.messages.stream(model="claude-x", max_tokens=64, messages=MESSAGES) as s:
            s.get_final_message()


def test_missing_max_tokens_is_400(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError, match="max_tokens: Field required"):
        client.post("/v1/messages", body={"model": "claude-x", "messages": MESSAGES}, cast_to=object)


def test_auth_token_custom_version_and_x_api_key(anthropic_emulator: Emulator) -> None:
    with anthropic.Anthropic(
        base_url=anthropic_emulator.url,
        auth_token=API_KEY,
        max_retries=0,
        default_headers={"anthropic-version": "2023-06-01"},
    ) as bearer:
        bearer.messages.create(model="claude-x", max_tokens=8, messages=MESSAGES)
    sent = anthropic_emulator.last_request
    assert sent.header("authorization") == f"Bearer {API_KEY}"
    assert sent.header("anthropic-version") == "2023-06-01"
    with anthropic.Anthropic(
        base_url=anthropic_emulator.url,
        api_key=None,
        auth_token=None,
        max_retries=0,
        default_headers={"x-api-key": "wrong"},
    ) as wrong:
        with pytest.raises(anthropic.AuthenticationError, match="invalid x-api-key"):
            wrong.messages.create(model="claude-x", max_tokens=8, messages=MESSAGES)


def test_count_tokens_and_models(client: anthropic.Anthropic, anthropic_emulator: Emulator) -> None:
    counted = client.messages.count_tokens(model="claude-x", messages=MESSAGES, system="be brief please")
    assert counted.input_tokens == 5
    assert anthropic_emulator.last_request.route == "count_tokens"
    assert [m.id for m in client.models.list()] == list(anthropic_emulator.models)
