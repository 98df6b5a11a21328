"""The official openai SDK against the OpenAI emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.emulators.openai_api import API_KEY
from tests.emulators.script import Emulator, Error, ToolCall, Usage

MESSAGES: list[Any] = [{"role": "user", "content": "hello there"}]


@pytest.fixture
def client(openai_emulator: Emulator) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{openai_emulator.url}/v1", api_key=API_KEY, max_retries=0) as c:
        yield c


def test_default_echo_with_usage(client: openai.OpenAI, openai_emulator: Emulator) -> None:
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.choices[0].message.content == "echo: hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gpt-4o-mini"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (2, 3)
    sent = openai_emulator.last_request
    assert sent.path == "/v1/chat/completions"
    assert sent.header("authorization") == f"Bearer {API_KEY}"
    assert sent.body["messages"] == MESSAGES


def test_stream_with_usage_chunk(client: openai.OpenAI, openai_emulator: Emulator) -> None:
    openai_emulator.reply("one two three", usage=Usage(input=10, output=3, cache_read=4))
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    with stream:
        chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    usage = chunks[-1].usage
    assert usage is not None and usage.total_tokens == 13
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 4
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_without_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    with client.chat.completions.create(model="m", messages=MESSAGES, stream=True) as stream:
        chunks = list(stream)
    assert all(c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_parallel_tool_calls_stream(client: openai.OpenAI, openai_emulator: Emulator) -> None:
    calls = [ToolCall("get_weather", {"city": "Paris"}), ToolCall("get_time", {"tz": "CET"})]
    openai_emulator.reply(tool_calls=calls, arg_chunk=3)
    with client.chat.completions.create(model="m", messages=MESSAGES, stream=True) as stream:
        chunks = list(stream)
    arguments: dict[int, str] = {}
    names: dict[int, str] = {}
    for chunk in chunks:
        for call in chunk.choices[0].delta.tool_calls or []:
            assert call.function is not None
            if call.id:
                names[call.index] = call.function.name or ""
            arguments[call.index] = arguments.get(call.index, "") + (call.function.arguments or "")
    assert names == {0: "get_weather", 1: "get_time"}
    assert json.loads(arguments[0]) == {"city": "Paris"}
    assert json.loads(arguments[1]) == {"tz": "CET"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_tool_calls_non_stream(client: openai.OpenAI, openai_emulator: Emulator) -> None:
    openai_emulator.reply("Checking.", tool_calls=[ToolCall("lookup", {"q": "x"}, id="call_1")])
    completion = client.chat.completions.create(model="m", messages=MESSAGES)
    message = completion.choices[0].message
    assert message.content == "Checking."
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert call.id == "call_1"
    assert call.type == "function"
    assert json.loads(call.function.arguments) == {"q": "x"}
    assert completion.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
def test_max_tokens_truncates_with_length(
    client: openai.OpenAI, openai_emulator: Emulator, field: str
) -> None:
    openai_emulator.reply("a b c d e f")
    completion = client.chat.completions.create(
        model="m",
        messages=MESSAGES,
        extra_body={field: 3},
    )
    assert completion.choices[0].message.content == "a b c"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None and completion.usage.completion_tokens == 3


def test_reasoning_content_is_streamed(client: openai.OpenAI, openai_emulator: Emulator) -> None:
    openai_emulator.reply("done", thinking="step one")
    with client.chat.completions.create(model="m", messages=MESSAGES, stream=True) as stream:
        deltas = [c.choices[0].delta for c in stream]
    reasoning = "".join(getattr(d, "reasoning_content", None) or "" for d in deltas)
    assert reasoning == "step one"


def test_wrong_key_is_authentication_error(openai_emulator: Emulator) -> None:
    with openai.OpenAI(
        base_url=f"{openai_emulator.url}/v1", api_key="sk-wrong-key-123456", max_retries=0
    ) as bad:
        with pytest.raises(openai.AuthenticationError) as caught:
            bad.chat.completions.create(model="m", messages=MESSAGES)
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert "sk-wrong-key-123456" not in str(caught.value.body)


def test_scripted_429_is_rate_limit_error(client: openai.OpenAI, openai_emulator: Emulator) -> None:
    openai_emulator.push(Error(429, code="insufficient_quota", type="insufficient_quota", retry_after=7))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="m", messages=MESSAGES)
    assert caught.value.code == "insufficient_quota"
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.response.headers["x-ratelimit-limit-requests"] == "1000"


def test_invalid_body_is_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="m", messages=[])
    assert caught.value.code == "empty_array"


def test_in_band_stream_error_raises(client: openai.OpenAI, openai_emulator: Emulator) -> None:
    openai_emulator.reply("partial answer here", error_after=2, stream_error=Error(500, "boom"))
    with client.chat.completions.create(model="m", messages=MESSAGES, stream=True) as stream:
        with pytest.raises(openai.APIError, match="boom"):
            list(stream)


def test_dropped_stream_raises(client: openai.OpenAI, openai_emulator: Emulator) -> None:
    openai_emulator.reply("one two three four", drop_after=2)
    with client.chat.completions.create(model="m", messages=MESSAGES, stream=True) as stream:
        with pytest.raises(openai.APIConnectionError):
            list(stream)


def test_models_list(client: openai.OpenAI, openai_emulator: Emulator) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids == list(openai_emulator.models)
    assert client.models.retrieve("gpt-4.1").id == "gpt-4.1"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope")
