"""A thinking-signature 400 is retried once on the same account with thinking stripped."""

from __future__ import annotations

import httpx

from tests.emulators.script import Error
from tests.relay.harness import MODEL, RelayServer


def test_signature_error_retried_without_thinking(relay_server: RelayServer) -> None:
    relay_server.add_account("anthropic")
    emu = relay_server.emulators["anthropic"]
    emu.push(Error(400, "messages.1.content.0: Invalid `signature` in `thinking` block"))
    history = [
        {"role": "user", "content": "first"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "c2lnbmF0dXJl"},
                {"type": "text", "text": "answer"},
            ],
        },
        {"role": "user", "content": "second"},
    ]
    r = httpx.post(
        relay_server.url + "/v1/messages",
        timeout=30,
        headers={"x-api-key": relay_server.api_key, "anthropic-version": "2023-06-01"},
        json={"model": MODEL["anthropic"], "max_tokens": 50, "messages": history},
    )
    assert r.status_code == 200, r.text
    first, second = emu.requests
    assert any(b.get("type") == "thinking" for b in first.body["messages"][1]["content"])
    assert all(b.get("type") != "thinking" for b in second.body["messages"][1]["content"])
