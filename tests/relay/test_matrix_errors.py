"""Relay matrix: upstream failures before the stream and connection drops mid-stream."""

from __future__ import annotations

import anthropic
import openai
import pytest
from google.genai import errors as genai_errors

from tests.emulators.script import Error, Reply
from tests.relay import matrix_support as ms
from tests.relay.harness import RelayServer
from tests.relay.matrix_errors import failing_call, interrupted_stream
from tests.relay.matrix_support import ALIAS, FORMATS, PROVIDERS, cells

matrix_relay = ms.matrix_relay
mx = ms.mx

OPENAI_FORMATS = ("chat", "completions", "responses")
#: what an upstream says when it is overloaded
OVERLOAD_STATUS = {"openai": 503, "anthropic": 529, "gemini": 503}


def _sdk_class(fmt: str, status: int) -> type[Exception]:
    if fmt in OPENAI_FORMATS:
        return {429: openai.RateLimitError, 404: openai.NotFoundError, 400: openai.BadRequestError}.get(
            status, openai.InternalServerError if status >= 500 else openai.APIStatusError)
    if fmt == "anthropic":
        return {429: anthropic.RateLimitError, 529: anthropic.OverloadedError, 404: anthropic.NotFoundError,
                503: anthropic.ServiceUnavailableError, 400: anthropic.BadRequestError,
                500: anthropic.InternalServerError}[status]
    return genai_errors.ServerError if status >= 500 else genai_errors.ClientError


@pytest.mark.parametrize(("fmt", "provider", "stream"), cells())
def test_rate_limited_with_retry_after(mx: RelayServer, fmt: str, provider: str, stream: bool) -> None:
    emu = mx.emulators[provider]
    emu.error(429, "slow down please", retry_after=7)
    failure = failing_call(fmt, mx, ALIAS[provider], stream)

    assert failure.status == 429 and isinstance(failure.exc, _sdk_class(fmt, 429))
    assert failure.headers.get("retry-after") == "7"
    if fmt == "gemini":
        assert failure.kind == "RESOURCE_EXHAUSTED"
        details = failure.body["error"]["details"]
        assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"} in details
    else:
        assert failure.headers.get("retry-after-ms") == "7000"
        assert failure.kind == ("rate_limit_error" if fmt == "anthropic" else "rate_limit_exceeded")
    assert len(ms.generations(emu)) == 1  # a 429 is never retried on the same account
    assert not emu.saw(mx.api_key)


@pytest.mark.parametrize(("fmt", "provider", "stream"), cells())
def test_overloaded(mx: RelayServer, fmt: str, provider: str, stream: bool) -> None:
    emu = mx.emulators[provider]
    kind = "overloaded_error" if provider == "anthropic" else None
    emu.push(Error(OVERLOAD_STATUS[provider], "Overloaded", type=kind), times=2)
    failure = failing_call(fmt, mx, ALIAS[provider], stream)

    status = 529 if fmt == "anthropic" else 503
    assert failure.status == status and isinstance(failure.exc, _sdk_class(fmt, status))
    expected = {"anthropic": "overloaded_error", "gemini": "UNAVAILABLE"}.get(fmt, "overloaded")
    assert failure.kind == expected
    assert len(ms.generations(emu)) == 2  # a sole candidate gets a second try after 503/529


@pytest.mark.parametrize(("fmt", "provider", "stream"), cells())
def test_server_error(mx: RelayServer, fmt: str, provider: str, stream: bool) -> None:
    emu = mx.emulators[provider]
    emu.push(Error(500, "kaboom"), times=2)
    failure = failing_call(fmt, mx, ALIAS[provider], stream)

    assert failure.status == 500 and isinstance(failure.exc, _sdk_class(fmt, 500))
    assert failure.kind == {"anthropic": "api_error", "gemini": "INTERNAL"}.get(fmt, "upstream_error")
    assert "kaboom" in str(failure.body)
    assert len(ms.generations(emu)) == 2


@pytest.mark.parametrize(
    ("fmt", "provider", "stream", "status"),
    [pytest.param(*c.values, 401 if c.values[2] else 403, id=f"{c.id}") for c in cells()],
)
def test_upstream_auth_failure_is_503(mx: RelayServer, fmt: str, provider: str, stream: bool,
                                      status: int) -> None:
    """401 (streamed cells) and 403 (whole cells) upstream: the client's own key was fine → 503."""
    emu = mx.emulators[provider]
    emu.error(status)
    failure = failing_call(fmt, mx, ALIAS[provider], stream)

    assert failure.status == 503 and isinstance(failure.exc, _sdk_class(fmt, 503))
    expected = {"anthropic": "api_error", "gemini": "UNAVAILABLE"}.get(fmt, "no_account_available")
    assert failure.kind == expected
    assert len(ms.generations(emu)) == 1
    for secret in ("sk-emu-openai-0001", "sk-ant-emu-0001", "AIzaEmuGeminiKey0001"):
        assert secret not in str(failure.body)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_drop_mid_stream_is_an_inband_error(mx: RelayServer, fmt: str, provider: str) -> None:
    emu = mx.emulators[provider]
    # frames: openai role + words; anthropic message_start, ping, block start + words; gemini per word
    drop = {"openai": 3, "anthropic": 5, "gemini": 2}[provider]
    emu.push(Reply("alpha beta gamma delta epsilon zeta", drop_after=drop, chunk_delay=0.02))
    failure = interrupted_stream(fmt, mx, ALIAS[provider])

    assert failure.text_before.startswith("alpha")
    assert "epsilon" not in failure.text_before
    if fmt in ("chat", "completions"):
        assert isinstance(failure.exc, openai.APIError) and failure.kind == "stream_interrupted"
    elif fmt == "responses":
        assert failure.events[-2:] == ["error", "response.failed"]
        assert "response.completed" not in failure.events
    elif fmt == "anthropic":
        assert failure.kind in ("api_error", "overloaded_error")
    else:
        assert failure.status == 500 and failure.kind == "INTERNAL"
    assert len(ms.generations(emu)) == 1  # no failover once the first byte went out


@pytest.mark.parametrize(("fmt", "provider"), [(f, p) for f in FORMATS for p in PROVIDERS])
def test_drop_before_answer_without_stream_is_502(mx: RelayServer, fmt: str, provider: str) -> None:
    """A whole answer cut in half is a network failure: retried once, then 502 in the caller's shape."""
    emu = mx.emulators[provider]
    emu.push(Reply("alpha beta gamma", drop_after=1), Reply("alpha beta gamma", drop_after=1))
    failure = failing_call(fmt, mx, ALIAS[provider], False)
    assert failure.status == (500 if fmt == "gemini" else 502)  # gemini has no 502: upstream_error is 500
    assert len(ms.generations(emu)) == 2

