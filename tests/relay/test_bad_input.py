"""Bad input to the relay: a 4xx in the caller's own error shape, and the server keeps serving."""

from __future__ import annotations

import httpx
import pytest

from tests.relay.harness import MODEL, RelayServer

CASES = [
    # (path, body, headers, status, shape)
    ("/v1/chat/completions", b"{not json", {}, 400, "openai"),
    ("/v1/chat/completions", b"[1, 2]", {}, 400, "openai"),
    ("/v1/chat/completions", b'{"model": "claude-emu-4"}', {}, 400, "openai"),
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "x"}]}', {}, 400, "openai"),
    (
        "/v1/chat/completions",
        b'{"model": "nope-model", "messages": [{"role": "user", "content": "x"}]}',
        {},
        404,
        "openai",
    ),
    (
        "/v1/chat/completions",
        b'{"model": "claude-emu-4", "n": 3, "messages": [{"role": "user", "content": "x"}]}',
        {},
        400,
        "openai",
    ),
    ("/v1/messages", b'{"model": "gpt-4o-mini", "messages": []}', {}, 400, "anthropic"),
    (
        "/v1/messages",
        b'{"model": "gpt-4o-mini", "max_tokens": "ten", "messages": [{"role": "user", "content": "x"}]}',
        {},
        400,
        "anthropic",
    ),
    ("/v1/responses", b'{"model": "claude-emu-4", "input": 5}', {}, 400, "openai"),
    ("/v1beta/models/claude-emu-4:generateContent", b'{"contents": "nope"}', {}, 400, "gemini"),
    ("/v1beta/models/claude-emu-4:fly", b"{}", {}, 404, "gemini"),
]


@pytest.mark.parametrize(("path", "body", "headers", "status", "shape"), CASES)
def test_bad_input(
    relay_all: RelayServer, path: str, body: bytes, headers: dict[str, str], status: int, shape: str
) -> None:
    auth = {"authorization": f"Bearer {relay_all.api_key}", "content-type": "application/json", **headers}
    r = httpx.post(relay_all.url + path, content=body, headers=auth, timeout=30)
    assert r.status_code == status, r.text
    data = r.json()
    if shape == "openai":
        assert set(data["error"]) >= {"message", "type", "param", "code"}
    elif shape == "anthropic":
        assert data["type"] == "error" and data["error"]["type"] and data["error"]["message"]
    else:
        assert data["error"]["code"] == status and data["error"]["status"]
    assert "Traceback" not in r.text
    ok = httpx.get(relay_all.url + "/health")
    assert ok.status_code == 200


def test_oversized_body(relay_all: RelayServer) -> None:
    relay_all.configure({"server": {"max_body_size": 2048}})
    body = {
        "model": MODEL["anthropic"],
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x" * 5000}],
    }
    r = httpx.post(
        relay_all.url + "/v1/messages",
        json=body,
        timeout=30,
        headers={"x-api-key": relay_all.api_key, "anthropic-version": "2023-06-01"},
    )
    assert r.status_code == 413 and r.json()["error"]["type"] == "request_too_large"
