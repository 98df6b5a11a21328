"""Catalogue endpoints, model detection, token counting and relay auth (real relay, emulators)."""

from __future__ import annotations

import anthropic
import httpx
from google import genai
from google.genai import types

from tests.relay.harness import RelayServer


def _get(relay: RelayServer, path: str, **headers: str) -> httpx.Response:
    return httpx.get(relay.url + path, headers={"authorization": f"Bearer {relay.api_key}", **headers})


def test_model_lists_in_three_shapes(relay_server: RelayServer) -> None:
    relay_server.add_account("openai", models=["gpt-4o", "gpt-4o-mini", "gpt-*"])
    relay_server.add_account("anthropic", models=["claude-emu-4"])
    relay_server.configure({"routing": {"mapping": {"fast": "openai:gpt-4o-mini", "any-*": "gpt-4o"}}})
    openai_shape = _get(relay_server, "/v1/models").json()
    ids = [m["id"] for m in openai_shape["data"]]
    assert ids == ["claude-emu-4", "fast", "gpt-4o", "gpt-4o-mini"]
    assert {m["id"]: m["owned_by"] for m in openai_shape["data"]}["fast"] == "gephyr"
    claude = _get(relay_server, "/v1/models", **{"anthropic-version": "2023-06-01"}).json()
    assert claude["first_id"] == "claude-emu-4" and claude["has_more"] is False
    assert _get(relay_server, "/v1/models/claude").json()["data"][0]["type"] == "model"
    gem = httpx.get(f"{relay_server.url}/v1beta/models?key={relay_server.api_key}").json()
    assert gem["models"][0]["name"] == "models/claude-emu-4"
    gem_v1 = httpx.get(f"{relay_server.url}/v1/models", headers={"x-goog-api-key": relay_server.api_key})
    assert "models" in gem_v1.json()
    one = _get(relay_server, "/v1/models/gpt-4o").json()
    assert one == {"id": "gpt-4o", "object": "model", "created": 1700000000, "owned_by": "openai"}
    missing = _get(relay_server, "/v1beta/models/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"


def test_detect(relay_server: RelayServer) -> None:
    acc = relay_server.add_account("gemini", label="g")
    r = httpx.post(
        relay_server.url + "/v1/models/detect",
        headers={"authorization": f"Bearer {relay_server.api_key}"},
        json={"model": "gemini-2.5-pro-preview-05-06", "tools": [{"google_search": {}}]},
    )
    data = r.json()
    assert data["matched_rule"] == "inferred:gemini" and data["normalised_model"] == "gemini-2.5-pro-preview"
    assert data["type"] == "web_search" and data["accounts"] == [
        {"id": acc["id"], "label": "g", "routable": True}
    ]
    bad = httpx.post(
        relay_server.url + "/v1/models/detect",
        headers={"authorization": f"Bearer {relay_server.api_key}"},
        json={"model": ""},
    )
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"


def test_relay_auth_in_each_shape(relay_server: RelayServer) -> None:
    r = httpx.post(relay_server.url + "/v1/messages", json={}, headers={"x-api-key": "wrong"})
    assert r.status_code == 401 and r.json()["type"] == "error" and r.headers["www-authenticate"] == "Bearer"
    r = httpx.post(relay_server.url + "/v1/chat/completions", json={})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    r = httpx.post(relay_server.url + "/v1beta/models/gemini-x:generateContent?key=nope", json={})
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
    assert httpx.get(relay_server.url + "/health").status_code == 200


def test_no_account_says_how_to_add_one(relay_server: RelayServer) -> None:
    r = httpx.post(
        relay_server.url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {relay_server.api_key}"},
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 503 and "gephyr accounts add" in r.json()["error"]["message"]
    acc = relay_server.add_account("openai")
    r = httpx.post(
        relay_server.url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {relay_server.api_key}"},
        json={"model": "claude-x", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    relay_server.ctx.store.db["accounts"].update(acc["id"], {"proxy_disabled": 1})
    relay_server.ctx.records_changed()
    r = httpx.post(
        relay_server.url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {relay_server.api_key}"},
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 503 and r.json()["error"]["code"] == "no_account_available"


def test_count_tokens_native_translated_and_estimated(relay_all: RelayServer) -> None:
    with anthropic.Anthropic(base_url=relay_all.url, api_key=relay_all.api_key, max_retries=0) as client:
        native = client.messages.with_raw_response.count_tokens(
            model="claude-emu-4", messages=[{"role": "user", "content": "one two three"}]
        )
        assert native.headers["x-gephyr-token-count"] == "native"
        assert native.parse().input_tokens == 3
        assert relay_all.emulators["anthropic"].last_request.path == "/v1/messages/count_tokens"
        cross = client.messages.with_raw_response.count_tokens(
            model="gemini-2.5-flash", messages=[{"role": "user", "content": "one two three four"}]
        )
        assert cross.headers["x-gephyr-token-count"] == "native"
        sent = relay_all.emulators["gemini"].last_request
        assert sent.path.endswith(":countTokens") and "generateContentRequest" in sent.body
        est = client.messages.with_raw_response.count_tokens(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "abcdefgh"}]
        )
        assert est.headers["x-gephyr-token-count"] == "estimated" and est.parse().input_tokens == 2 + 3
    client_g = genai.Client(api_key=relay_all.api_key, http_options=types.HttpOptions(base_url=relay_all.url))
    try:
        total = client_g.models.count_tokens(model="gemini-2.5-flash", contents="alpha beta")
        assert total.total_tokens == 2
    finally:
        client_g.close()
