"""Claude Code traffic features: warmup interception and background-task routing."""

from __future__ import annotations

import anthropic
import httpx

from tests.relay.harness import MODEL, RelayServer

HEADERS = {"anthropic-version": "2023-06-01"}


def _post(relay: RelayServer, body: dict[str, object]) -> httpx.Response:
    return httpx.post(
        relay.url + "/v1/messages", json=body, timeout=30, headers={"x-api-key": relay.api_key, **HEADERS}
    )


def test_warmup_intercepted_only_when_enabled(relay_server: RelayServer) -> None:
    relay_server.add_account("anthropic")
    body = {
        "model": MODEL["anthropic"],
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "Warmup"}],
    }
    r = _post(relay_server, body)
    assert r.status_code == 200 and "x-warmup-intercepted" not in r.headers
    assert len(relay_server.emulators["anthropic"].requests) == 1
    relay_server.configure({"routing": {"intercept_warmup": True}})
    r = _post(relay_server, body)
    assert r.headers["x-warmup-intercepted"] == "true"
    assert r.json()["content"] == [{"type": "text", "text": "OK"}] and r.json()["usage"]["output_tokens"] == 1
    with anthropic.Anthropic(
        base_url=relay_server.url, api_key=relay_server.api_key, max_retries=0
    ) as client:
        with client.messages.stream(
            model=MODEL["anthropic"], max_tokens=10, messages=[{"role": "user", "content": "Warmup"}]
        ) as s:
            assert s.get_final_text() == "OK"
    assert len(relay_server.emulators["anthropic"].requests) == 1  # never reached upstream again


def test_background_tasks_go_to_their_mapping(relay_server: RelayServer) -> None:
    relay_server.add_account("anthropic")
    relay_server.add_account("openai")
    relay_server.configure(
        {
            "routing": {
                "route_background_tasks": True,
                "mapping": {"internal-background-task": "openai:gpt-4o-mini"},
            }
        }
    )
    body = {
        "model": MODEL["anthropic"],
        "max_tokens": 50,
        "system": "You are Claude Code.",
        "tools": [{"name": "Bash", "description": "run", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "earlier turn"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "Please write a 5-10 word title for this conversation"},
        ],
    }
    r = _post(relay_server, body)
    assert r.status_code == 200 and r.headers["x-background-task"] == "true"
    sent = relay_server.emulators["openai"].last_request.body
    assert sent["model"] == "gpt-4o-mini" and "tools" not in sent
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    normal = dict(body, messages=[{"role": "user", "content": "refactor the parser please"}])
    r = _post(relay_server, normal)
    assert r.status_code == 200 and "x-background-task" not in r.headers
    assert relay_server.emulators["anthropic"].requests  # ordinary turns keep their model
