"""Relay matrix edges: bad requests, unknown models, body limit, no account, failover."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.emulators import anthropic_api, gemini_api, openai_api
from tests.emulators.script import Error, Reply
from tests.relay import matrix_support as ms
from tests.relay.harness import MODEL, RelayServer
from tests.relay.matrix_clients import Ask, Msg, client_for
from tests.relay.matrix_errors import SDK_ERRORS, as_failure, failing_call
from tests.relay.matrix_support import FORMATS, PROVIDERS

matrix_relay = ms.matrix_relay
mx = ms.mx

PATHS = {
    "chat": "/v1/chat/completions",
    "completions": "/v1/completions",
    "responses": "/v1/responses",
    "anthropic": "/v1/messages",
    "gemini": "/v1beta/models/gpt-4o-mini:generateContent",
    "gemini-v1": "/v1/models/claude-emu-4:streamGenerateContent",
}
MISSING = {  # a body lacking a required field, per route (routed cross-format: Gephyr must check)
    "chat": {"model": "claude-emu-4"},
    "completions": {"model": "claude-emu-4"},
    "responses": {"model": "claude-emu-4"},
    "anthropic": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
    "gemini": {"generationConfig": {}},
    "gemini-v1": {"contents": "not a list"},
}
SECOND_KEY = {"openai": "sk-emu-openai-0002", "anthropic": "sk-ant-emu-0002",
              "gemini": "AIzaEmuGeminiKey0002"}
FIRST_KEY = {"openai": openai_api.API_KEY, "anthropic": anthropic_api.API_KEY, "gemini": gemini_api.API_KEY}


def _post(relay: RelayServer, route: str, content: bytes) -> httpx.Response:
    headers = {"authorization": f"Bearer {relay.api_key}", "content-type": "application/json"}
    return httpx.post(relay.url + PATHS[route], content=content, headers=headers)


def _assert_shape(route: str, r: httpx.Response, status: int) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    if route.startswith("gemini"):
        assert body["error"]["code"] == status and body["error"]["status"] == "INVALID_ARGUMENT"
    elif route == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    else:
        assert body["error"]["type"] == "invalid_request_error" and body["error"]["message"]


@pytest.mark.parametrize("route", list(PATHS))
def test_malformed_json(mx: RelayServer, route: str) -> None:
    _assert_shape(route, _post(mx, route, b'{"model": "gpt-4o-mini", "messages": ['), 400)
    _assert_shape(route, _post(mx, route, b"[1, 2, 3]"), 400)
    assert not any(e.requests for e in mx.emulators.values())


@pytest.mark.parametrize("route", list(PATHS))
def test_missing_required_fields(mx: RelayServer, route: str) -> None:
    _assert_shape(route, _post(mx, route, json.dumps(MISSING[route]).encode()), 400)
    assert not any(e.requests for e in mx.emulators.values())


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_model_is_404(mx: RelayServer, fmt: str, stream: bool) -> None:
    failure = failing_call(fmt, mx, "mystery-model-9", stream)
    assert failure.status == 404
    assert failure.kind == {"anthropic": "not_found_error", "gemini": "NOT_FOUND"}.get(fmt, "model_not_found")
    assert "mystery-model-9" in str(failure.body)


def test_oversized_body_is_413_in_each_shape(relay_server: RelayServer) -> None:
    relay_server.add_account("openai")
    relay_server.configure({"server": {"max_body_size": 4096}})
    big = "word " * 2000
    for fmt in FORMATS:
        with client_for(fmt, relay_server, cached=False) as client:
            try:
                client.ask(MODEL["openai"], Ask([Msg("user", big)]))
            except SDK_ERRORS as exc:
                failure = as_failure(fmt, exc)
            else:
                raise AssertionError(f"{fmt}: an oversized body was accepted")
        assert failure.status == 413, fmt
        assert failure.kind == {"gemini": "INVALID_ARGUMENT"}.get(fmt, "request_too_large"), fmt
    assert not relay_server.emulators["openai"].requests


def test_no_account_is_503_saying_how_to_add_one(relay_server: RelayServer) -> None:
    for fmt in FORMATS:
        for stream in (False, True):
            failure = failing_call(fmt, relay_server, MODEL["anthropic"], stream)
            assert failure.status == 503, fmt
            assert "gephyr accounts add" in str(failure.body), fmt
    assert not any(e.requests for e in relay_server.emulators.values())


def test_failover_to_a_second_account(relay_server: RelayServer) -> None:
    """First account 500 → the second serves; every format, upstream kind and mode."""
    for provider in PROVIDERS:
        emu = relay_server.emulators[provider]
        emu.api_keys.add(SECOND_KEY[provider])
        relay_server.add_account(provider, label=f"{provider}-1")
        relay_server.add_account(provider, label=f"{provider}-2", api_key=SECOND_KEY[provider])
    for fmt in FORMATS:
        with client_for(fmt, relay_server, cached=False) as client:
            for provider in PROVIDERS:
                for stream in (False, True):
                    emu = relay_server.emulators[provider]
                    relay_server.reset_runtime()  # each round starts with no rate-limit records
                    before = len(emu.requests)
                    emu.push(Error(500, "first account broke"), Reply("served by the second"))
                    answer = client.ask(MODEL[provider], Ask([Msg("user", "hi")], stream=stream))
                    assert answer.text == "served by the second", (fmt, provider, stream)
                    _check_two_accounts(relay_server, provider, emu.requests[before:])


def _check_two_accounts(relay: RelayServer, provider: str, requests: list[Any]) -> None:
    """Two attempts, one per account (different credentials), never the relay's key."""
    first, second = requests
    assert {_credential(provider, first), _credential(provider, second)} == {
        FIRST_KEY[provider], SECOND_KEY[provider]}
    assert not relay.emulators[provider].saw(relay.api_key)


def _credential(provider: str, request: Any) -> str:
    if provider == "openai":
        return str(request.header("authorization")).removeprefix("Bearer ")
    if provider == "anthropic":
        return str(request.header("x-api-key") or request.header("authorization")).removeprefix("Bearer ")
    return str(request.header("x-goog-api-key") or request.query.get("key"))


def test_final_error_does_not_wait_out_a_backoff(relay_server: RelayServer) -> None:
    """With nothing left to try, the error goes back at once (no sleep before giving up)."""
    relay_server.add_account("openai")
    relay_server.configure({"routing": {"max_attempts": 1, "retry_server_error_step_ms": 5000}})
    relay_server.emulators["openai"].error(500, "kaboom")
    started = time.monotonic()
    failure = failing_call("chat", relay_server, MODEL["openai"], False)
    assert failure.status == 500
    assert time.monotonic() - started < 2.5


def test_sdk_auth_options_versions_and_key_param(mx: RelayServer) -> None:
    """Anthropic x-api-key and Bearer, a custom anthropic-version, google-genai v1 and v1beta, ?key=."""
    import anthropic

    for options in ({"api_key": mx.api_key}, {"auth_token": mx.api_key}):
        with anthropic.Anthropic(base_url=mx.url, max_retries=0, default_headers={
                "anthropic-version": "2026-10-21"}, **options) as ac:  # type: ignore[arg-type]
            r = ac.messages.create(model=MODEL["anthropic"], max_tokens=50,
                                   messages=[{"role": "user", "content": "hi"}])
            assert r.content[0].text == "echo: hi"  # type: ignore[union-attr]
    assert mx.emulators["anthropic"].last_request.header("anthropic-version") == "2026-10-21"
    for version in ("v1", "v1beta"):
        with client_for("gemini", mx, api_version=version, cached=False) as client:
            answer = client.ask(MODEL["openai"], Ask([Msg("user", "hey")], stream=True))
            assert answer.text == "echo: hey"
    r = httpx.post(f"{mx.url}/v1beta/models/{MODEL['anthropic']}:generateContent?key={mx.api_key}",
                   json={"contents": [{"parts": [{"text": "keyed"}]}]})
    assert r.status_code == 200 and r.json()["candidates"][0]["content"]["parts"][0]["text"] == "echo: keyed"
    assert not any(e.saw(mx.api_key) for e in mx.emulators.values())
