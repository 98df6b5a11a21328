"""Emulator mechanics and byte-level framing, checked with raw httpx."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import httpx
import pytest

from tests.emulators import anthropic_api, gemini_api, openai_api
from tests.emulators.openai_api import format_duration
from tests.emulators.script import Emulator, Error, Raw, Reply, ToolCall, shape_output
from tests.emulators.server import run_app

OPENAI = {"authorization": f"Bearer {openai_api.API_KEY}"}
ANTHROPIC = {"x-api-key": anthropic_api.API_KEY, "anthropic-version": "2023-06-01"}
GEMINI = {"x-goog-api-key": gemini_api.API_KEY}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}]}
MESSAGES = {"model": "claude-x", "max_tokens": 64, "messages": CHAT["messages"]}
CONTENTS = {"contents": [{"role": "user", "parts": [{"text": "hello there"}]}]}


def _gemini(emulator: Emulator, action: str = "generateContent", model: str = "gemini-x") -> str:
    return f"{emulator.url}/v1beta/models/{model}:{action}"


def test_run_app_starts_and_stops() -> None:
    with run_app(openai_api.create_app()) as url:
        assert httpx.get(f"{url}/v1/models", headers=OPENAI).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/v1/models", headers=OPENAI, timeout=1)


def test_requests_are_recorded(openai_emulator: Emulator) -> None:
    headers = {**OPENAI, "x-custom": "1"}
    httpx.post(f"{openai_emulator.url}/v1/chat/completions?a=b", headers=headers, json=CHAT)
    httpx.get(f"{openai_emulator.url}/v1/models", headers=OPENAI)
    first, second = openai_emulator.requests
    assert (first.method, first.path, first.query, first.route) == (
        "POST",
        "/v1/chat/completions",
        {"a": "b"},
        "generate",
    )
    assert first.body == CHAT and json.loads(first.raw_body) == CHAT
    assert first.header("X-Custom") == "1"
    assert second.route == "models"
    assert openai_emulator.calls() == [first]
    assert openai_emulator.saw(openai_api.API_KEY) and not openai_emulator.saw("sk-never-sent")
    openai_emulator.reset()
    assert openai_emulator.requests == []


def test_script_queue_routes_and_default(openai_emulator: Emulator) -> None:
    url = f"{openai_emulator.url}/v1"
    openai_emulator.push(Error(500), route="models")
    openai_emulator.push(Reply("first"), Reply("second"))
    assert openai_emulator.pending == 3
    replies = [httpx.post(f"{url}/chat/completions", headers=OPENAI, json=CHAT) for _ in range(3)]
    texts = [r.json()["choices"][0]["message"]["content"] for r in replies]
    assert texts == ["first", "second", "echo: hello there"]
    assert httpx.get(f"{url}/models", headers=OPENAI).status_code == 500
    openai_emulator.set_default(Error(503))
    assert httpx.post(f"{url}/chat/completions", headers=OPENAI, json=CHAT).status_code == 503
    openai_emulator.set_default(None)
    openai_emulator.push(Error(429), route="*", times=2)
    assert httpx.get(f"{url}/models", headers=OPENAI).status_code == 429
    assert httpx.post(f"{url}/chat/completions", headers=OPENAI, json=CHAT).status_code == 429


def test_openai_stream_framing(openai_emulator: Emulator) -> None:
    openai_emulator.reply("hi there")
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    response = httpx.post(f"{openai_emulator.url}/v1/chat/completions", headers=OPENAI, json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "content-length" not in response.headers
    frames = response.text.split("\n\n")
    assert frames[-2:] == ["data: [DONE]", ""]
    assert all(f.startswith("data: {") for f in frames[:-2])
    usage_chunk = json.loads(frames[-3][6:])
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["total_tokens"] == 4


def test_anthropic_stream_framing(anthropic_emulator: Emulator) -> None:
    url = f"{anthropic_emulator.url}/v1/messages"
    response = httpx.post(url, headers=ANTHROPIC, json={**MESSAGES, "stream": True})
    events = [e for e in response.text.split("\n\n") if e]
    names = []
    for event in events:
        name_line, data_line = event.split("\n")
        name = name_line.removeprefix("event: ")
        assert json.loads(data_line.removeprefix("data: "))["type"] == name
        names.append(name)
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-2:] == ["message_delta", "message_stop"]


def test_gemini_sse_and_array_framing(gemini_emulator: Emulator) -> None:
    gemini_emulator.reply("a b")
    sse = httpx.post(
        _gemini(gemini_emulator, "streamGenerateContent") + "?alt=sse",
        headers=GEMINI,
        json=CONTENTS,
    )
    assert sse.text.startswith("data: {") and sse.text.endswith("}\r\n\r\n")
    assert len(sse.text.split("\r\n\r\n")) == 3
    gemini_emulator.reply("a b c")
    array = httpx.post(_gemini(gemini_emulator, "streamGenerateContent"), headers=GEMINI, json=CONTENTS)
    assert array.headers["content-type"] == "application/json"
    assert array.text.startswith("[{") and array.text.endswith("}]") and ",\r\n{" in array.text
    chunks = array.json()
    assert [c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks] == ["a", " b", " c"]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


def test_gemini_array_in_band_error(gemini_emulator: Emulator) -> None:
    gemini_emulator.reply("a b c", error_after=1, stream_error=Error(503))
    array = httpx.post(
        _gemini(gemini_emulator, "streamGenerateContent"), headers=GEMINI, json=CONTENTS
    ).json()
    assert len(array) == 2 and array[-1]["error"]["status"] == "UNAVAILABLE"


@pytest.mark.parametrize("stream", [False, True])
def test_drop_mid_body(openai_emulator: Emulator, stream: bool) -> None:
    openai_emulator.reply("one two three", drop_after=2)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(
            f"{openai_emulator.url}/v1/chat/completions",
            headers=OPENAI,
            json={**CHAT, "stream": stream},
        )


def test_delay_and_slow_stream(anthropic_emulator: Emulator) -> None:
    anthropic_emulator.reply("a b c", delay=0.3, chunk_delay=0.05)
    started = time.monotonic()
    url = f"{anthropic_emulator.url}/v1/messages"
    with httpx.stream("POST", url, headers=ANTHROPIC, json={**MESSAGES, "stream": True}) as r:
        first_byte = time.monotonic() - started
        arrivals = [time.monotonic() for _ in r.iter_raw()]
    assert first_byte >= 0.3
    assert arrivals[-1] - started >= 0.3 + 0.05 * 8  # nine frames, eight gaps


def test_raw_behaviour(gemini_emulator: Emulator) -> None:
    gemini_emulator.push(
        Raw(
            [b'data: {"x":1}\r\n\r\n', b"data: tail\r\n\r\n"],
            content_type="text/event-stream",
            headers={"x-a": "b"},
        )
    )
    response = httpx.post(_gemini(gemini_emulator), headers=GEMINI, json=CONTENTS)
    assert response.text == 'data: {"x":1}\r\n\r\ndata: tail\r\n\r\n'
    assert response.headers["x-a"] == "b"


def test_openai_rate_limit_headers(openai_emulator: Emulator) -> None:
    url = f"{openai_emulator.url}/v1/chat/completions"
    first = httpx.post(url, headers=OPENAI, json=CHAT).headers
    second = httpx.post(url, headers=OPENAI, json=CHAT).headers
    assert first["x-ratelimit-remaining-requests"] == "999"
    assert second["x-ratelimit-remaining-requests"] == "998"
    assert second["x-ratelimit-remaining-tokens"] == str(1_000_000 - 10)
    assert (first["x-ratelimit-reset-requests"], first["x-ratelimit-reset-tokens"]) == (
        "1s",
        "6m0s",
    )
    openai_emulator.rate_limits.requests_remaining = 0
    assert (
        httpx.get(f"{openai_emulator.url}/v1/models", headers=OPENAI).headers[
            "x-ratelimit-remaining-requests"
        ]
        == "0"
    )


@pytest.mark.parametrize(
    ("seconds", "text"), [(0.02, "20ms"), (1, "1s"), (360, "6m0s"), (3723.5, "1h2m3.5s")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_anthropic_headers_and_auth(anthropic_emulator: Emulator) -> None:
    url = f"{anthropic_emulator.url}/v1/messages"
    headers = httpx.post(url, headers=ANTHROPIC, json=MESSAGES).headers
    reset = dt.datetime.fromisoformat(headers["anthropic-ratelimit-tokens-reset"])
    assert reset > dt.datetime.now(dt.UTC)
    assert headers["request-id"].startswith("req_")
    no_version = httpx.post(url, headers={"x-api-key": anthropic_api.API_KEY}, json=MESSAGES)
    assert no_version.status_code == 400
    assert no_version.json()["error"]["message"] == "anthropic-version: header is required"
    missing = httpx.post(url, headers={"anthropic-version": "2023-06-01"}, json=MESSAGES)
    assert missing.status_code == 401 and missing.json()["error"]["type"] == "authentication_error"


def test_gemini_credentials(gemini_emulator: Emulator) -> None:
    url = _gemini(gemini_emulator)
    bearer = {"authorization": f"Bearer {gemini_api.OAUTH_TOKEN}"}
    assert httpx.post(url, headers=bearer, json=CONTENTS).status_code == 200
    assert httpx.post(f"{url}?key={gemini_api.API_KEY}", json=CONTENTS).status_code == 200
    expired = httpx.post(url, headers={"authorization": "Bearer old"}, json=CONTENTS)
    assert (expired.status_code, expired.json()["error"]["status"]) == (401, "UNAUTHENTICATED")
    anonymous = httpx.post(url, json=CONTENTS)
    assert (anonymous.status_code, anonymous.json()["error"]["status"]) == (
        403,
        "PERMISSION_DENIED",
    )
    assert (
        httpx.post(url.replace(":generateContent", ":nope"), headers=GEMINI, json=CONTENTS).status_code == 404
    )
    model = httpx.get(f"{gemini_emulator.url}/v1/models/gemini-2.5-pro", headers=GEMINI)
    assert model.json()["name"] == "models/gemini-2.5-pro"


def test_gemini_count_tokens_wrapped_request(gemini_emulator: Emulator) -> None:
    body = {"generateContentRequest": {"model": "models/gemini-x", **CONTENTS}}
    counted = httpx.post(_gemini(gemini_emulator, "countTokens"), headers=GEMINI, json=body)
    assert counted.json()["totalTokens"] == 2
    assert gemini_emulator.last_request.route == "count_tokens"


TOOL_TURN: list[dict[str, Any]] = [
    {"role": "user", "content": "weather?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{}"}}],
    },
]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"messages": CHAT["messages"]}, "model"),
        ({"model": "m"}, "Missing required parameter: 'messages'"),
        ({"model": "m", "messages": TOOL_TURN}, "did not have response messages: call_1"),
        (
            {"model": "m", "messages": [{"role": "tool", "tool_call_id": "x", "content": "r"}]},
            "must be a response to a preceeding message",
        ),
        ({**CHAT, "stream_options": {"include_usage": True}}, "only allowed when 'stream'"),
    ],
)
def test_openai_validation(openai_emulator: Emulator, body: dict[str, Any], fragment: str) -> None:
    response = httpx.post(f"{openai_emulator.url}/v1/chat/completions", headers=OPENAI, json=body)
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]
    assert response.json()["error"]["type"] == "invalid_request_error"


TOOL_USE = {
    "role": "assistant",
    "content": [{"type": "tool_use", "id": "toolu_1", "name": "w", "input": {}}],
}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"max_tokens": None}, "max_tokens: Field required"),
        (
            {"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]},
            "text content blocks must be non-empty",
        ),
        (
            {"messages": [*CHAT["messages"], TOOL_USE, {"role": "user", "content": "next"}]},
            "`tool_use` ids were found without `tool_result` blocks immediately after: toolu_1",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "x"}],
                    }
                ]
            },
            "unexpected `tool_use_id`",
        ),
        ({"thinking": {"type": "enabled", "budget_tokens": 512}}, "greater than or equal to 1024"),
        (
            {"max_tokens": 2000, "thinking": {"type": "enabled", "budget_tokens": 4000}},
            "`max_tokens` must be greater than `thinking.budget_tokens`",
        ),
        (
            {"messages": [*CHAT["messages"], {"role": "assistant", "content": "prefill "}]},
            "trailing whitespace",
        ),
    ],
)
def test_anthropic_validation(anthropic_emulator: Emulator, change: dict[str, Any], fragment: str) -> None:
    body = {k: v for k, v in {**MESSAGES, **change}.items() if v is not None}
    response = httpx.post(f"{anthropic_emulator.url}/v1/messages", headers=ANTHROPIC, json=body)
    assert response.status_code == 400
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert fragment in response.json()["error"]["message"]


def _call(signature: str | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"functionCall": {"name": "w", "args": {}}}
    if signature:
        part["thoughtSignature"] = signature
    return {"role": "model", "parts": [part]}


ASK = {"role": "user", "parts": [{"text": "weather?"}]}


@pytest.mark.parametrize(
    ("model", "contents", "fragment"),
    [
        ("gemini-x", [], "contents is not specified"),
        ("gemini-x", [{"role": "user", "parts": []}], "contents.parts must not be empty"),
        ("gemini-x", [{"role": "user", "parts": [{"text": ""}]}], "required oneof field 'data'"),
        ("gemini-x", [ASK, _call(), ASK], "number of function response parts"),
        (
            "gemini-3-pro-preview",
            [
                ASK,
                _call(),
                {"role": "user", "parts": [{"functionResponse": {"name": "w", "response": {}}}]},
            ],
            "missing a thought_signature",
        ),
    ],
)
def test_gemini_validation(gemini_emulator: Emulator, model: str, contents: list[Any], fragment: str) -> None:
    url = _gemini(gemini_emulator, model=model)
    response = httpx.post(url, headers=GEMINI, json={"contents": contents})
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert fragment in response.json()["error"]["message"]


def test_gemini_signature_bypass_is_accepted(gemini_emulator: Emulator) -> None:
    result = {"role": "user", "parts": [{"functionResponse": {"name": "w", "response": {}}}]}
    contents = [ASK, _call("skip_thought_signature_validator"), result]
    url = _gemini(gemini_emulator, model="gemini-3-pro-preview")
    assert httpx.post(url, headers=GEMINI, json={"contents": contents}).status_code == 200


def test_shape_output_budget_and_stop() -> None:
    reply = Reply("alpha beta END gamma", thinking="t1 t2", tool_calls=[ToolCall("f", {"a": 1})])
    stopped = shape_output(reply, max_tokens=None, stop=["END"])
    assert (stopped.text, stopped.reason, stopped.stop_sequence) == (
        "alpha beta ",
        "stop_sequence",
        "END",
    )
    assert stopped.tool_calls == []
    full = shape_output(reply, max_tokens=None)
    assert (full.reason, full.output_tokens, full.reasoning_tokens) == ("tool_use", 7, 2)
    cut = shape_output(reply, max_tokens=3)
    assert (cut.thinking, cut.text, cut.reason) == ("t1 t2", "alpha", "max_tokens")
