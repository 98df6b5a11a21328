"""The official google-genai SDK against the Gemini emulator (``/v1`` and ``/v1beta``)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from google import genai
from google.genai import errors, types

from tests.emulators.gemini_api import API_KEY
from tests.emulators.script import Emulator, Error, ToolCall, Usage

SIGNATURE = base64.b64encode(b"gemini-signature").decode()


def _client(url: str, version: str | None, key: str = API_KEY) -> genai.Client:
    options = types.HttpOptions(
        base_url=url, api_version=version, retry_options=types.HttpRetryOptions(attempts=1)
    )
    return genai.Client(api_key=key, http_options=options)


@pytest.fixture(params=[None, "v1beta"], ids=["default-version", "v1beta"])
def client(request: pytest.FixtureRequest, gemini_emulator: Emulator) -> Iterator[genai.Client]:
    with _client(gemini_emulator.url, request.param) as c:
        yield c


def test_default_echo(client: genai.Client, gemini_emulator: Emulator) -> None:
    response = client.models.generate_content(model="gemini-2.5-flash", contents="hello there")
    assert response.text == "echo: hello there"
    assert response.candidates and response.candidates[0].finish_reason == types.FinishReason.STOP
    usage = response.usage_metadata
    assert usage is not None
    assert (usage.prompt_token_count, usage.candidates_token_count) == (2, 3)
    assert usage.total_token_count == 5
    sent = gemini_emulator.last_request
    assert sent.path.endswith("/models/gemini-2.5-flash:generateContent")
    assert sent.header("x-goog-api-key") == API_KEY


def test_google_genai_default_api_version_is_served(gemini_emulator: Emulator) -> None:
    with _client(gemini_emulator.url, None) as c:
        c.models.generate_content(model="gemini-2.5-flash", contents="hi")
    assert gemini_emulator.last_request.path == "/v1/models/gemini-2.5-flash:generateContent"


def test_stream_sse_text(client: genai.Client, gemini_emulator: Emulator) -> None:
    gemini_emulator.reply("one two three", usage=Usage(cache_read=1))
    chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))
    assert "".join(c.text or "" for c in chunks) == "one two three"
    assert len(chunks) == 3
    last = chunks[-1]
    assert last.candidates and last.candidates[0].finish_reason == types.FinishReason.STOP
    assert last.usage_metadata is not None
    assert last.usage_metadata.cached_content_token_count == 1
    assert gemini_emulator.last_request.query == {"alt": "sse"}


def test_thoughts_and_function_calls(client: genai.Client, gemini_emulator: Emulator) -> None:
    gemini_emulator.reply(
        thinking="I should call the tool.",
        signature=SIGNATURE,
        tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="fc-1"), ToolCall("noop")],
    )
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True))
    response = client.models.generate_content(model="gemini-2.5-flash", contents="weather?", config=config)
    assert response.candidates and response.candidates[0].content
    parts = response.candidates[0].content.parts or []
    assert parts[0].thought is True and parts[0].text == "I should call the tool."
    assert parts[1].thought_signature == b"gemini-signature"
    calls = response.function_calls or []
    assert [(c.name, c.args, c.id) for c in calls] == [
        ("get_weather", {"city": "Paris"}, "fc-1"),
        ("noop", {}, None),
    ]
    usage = response.usage_metadata
    assert usage is not None and usage.thoughts_token_count == 5


def test_thoughts_hidden_without_include_thoughts(client: genai.Client, gemini_emulator: Emulator) -> None:
    gemini_emulator.reply("answer", thinking="hidden musing")
    response = client.models.generate_content(model="gemini-2.5-flash", contents="q")
    assert response.candidates and response.candidates[0].content
    parts = response.candidates[0].content.parts or []
    assert [p.thought for p in parts] == [None]
    assert parts[0].thought_signature  # signatures are returned even when thoughts are not
    assert response.usage_metadata and response.usage_metadata.thoughts_token_count == 2


def test_max_output_tokens(client: genai.Client, gemini_emulator: Emulator) -> None:
    gemini_emulator.reply("a b c d")
    config = types.GenerateContentConfig(max_output_tokens=2)
    response = client.models.generate_content(model="gemini-x", contents="q", config=config)
    assert response.text == "a b"
    assert response.candidates and response.candidates[0].finish_reason == "MAX_TOKENS"


def test_safety_finish(client: genai.Client, gemini_emulator: Emulator) -> None:
    gemini_emulator.reply(stop="SAFETY")
    response = client.models.generate_content(model="gemini-x", contents="q")
    assert response.candidates and response.candidates[0].finish_reason == "SAFETY"


def test_quota_429(client: genai.Client, gemini_emulator: Emulator) -> None:
    gemini_emulator.push(Error(429, code="GenerateRequestsPerDayPerProjectPerModel-FreeTier"))
    with pytest.raises(errors.ClientError) as caught:
        client.models.generate_content(model="gemini-2.5-pro", contents="q")
    assert caught.value.code == 429
    assert caught.value.status == "RESOURCE_EXHAUSTED"
    details = caught.value.details["error"]["details"]
    kinds = {d["@type"].rsplit(".", 1)[-1]: d for d in details}
    violation = kinds["QuotaFailure"]["violations"][0]
    assert violation["quotaId"] == "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
    assert violation["quotaDimensions"]["model"] == "gemini-2.5-pro"
    assert kinds["RetryInfo"]["retryDelay"] == "37s"


def test_server_error_and_in_band_error(client: genai.Client, gemini_emulator: Emulator) -> None:
    gemini_emulator.push(Error(503))
    with pytest.raises(errors.ServerError) as caught:
        client.models.generate_content(model="gemini-x", contents="q")
    assert caught.value.status == "UNAVAILABLE"
    gemini_emulator.reply("one two three", error_after=1, stream_error=Error(500))
    with pytest.raises(errors.ServerError):
        list(client.models.generate_content_stream(model="gemini-x", contents="q"))


def test_bad_key_is_400_api_key_invalid(gemini_emulator: Emulator) -> None:
    with _client(gemini_emulator.url, "v1beta", key="wrong-key") as bad:
        with pytest.raises(errors.ClientError) as caught:
            bad.models.generate_content(model="gemini-x", contents="q")
    assert caught.value.code == 400
    assert caught.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"


def test_count_tokens_and_models(client: genai.Client, gemini_emulator: Emulator) -> None:
    counted = client.models.count_tokens(model="gemini-2.5-flash", contents="three little words")
    assert counted.total_tokens == 3
    names = [m.name for m in client.models.list(config={"page_size": 2})]
    assert names == [f"models/{m}" for m in gemini_emulator.models]
    pages = [r for r in gemini_emulator.requests if r.route == "models"]
    assert [r.query.get("pageToken") for r in pages] == [None, "2"]
