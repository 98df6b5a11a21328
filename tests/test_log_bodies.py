"""Request-log bodies and broken streams (observability.md §2): bodies captured only when on and
capped, binary marked, streamed answers summarised, no credential stored; an upstream stream cut
after the client got 200 is logged as `stream_interrupted` with the status kept."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from gephyr_core.monitor.bodies import Bodies, summarize
from gephyr_core.monitor.writer import settle
from gephyr_core.wire import Usage
from tests.emulators.script import Reply, ToolCall
from tests.emulators.script import Usage as EmuUsage
from tests.relay.harness import MODEL, RelayServer

# -- the buffers and their rendering (pure) ------------------------------------------------


def _bodies(cap: int, request: bytes, response: list[bytes], content_type: bytes) -> Bodies:
    b = Bodies(cap)
    b.request(request)
    b.start([(b"content-type", content_type)])
    for chunk in response:
        b.response(chunk)
    return b


def test_text_binary_and_cap() -> None:
    b = _bodies(1000, b'{"model":"m"}', [b'{"ok":', b"true}"], b"application/json")
    assert b.render("openai", "chat", False, Usage()) == ('{"model":"m"}', '{"ok":true}')
    b = _bodies(1000, b"\xff\xfe\x00binary", [b"\x89PNG..."], b"image/png")
    assert b.render("openai", "chat", False, Usage()) == ("[binary request body]", "[image/png]")
    b = _bodies(10, "é".encode() * 20, [b"x" * 25], b"text/plain; charset=utf-8")
    request, response = b.render(None, None, False, Usage())
    assert request == "é" * 5 + "…[truncated 30 bytes]"  # 40 bytes sent, 10 kept
    assert response == "x" * 10 + "…[truncated 15 bytes]"
    assert len(b.req) == 10 and len(b.resp) == 10  # the buffers themselves stay bounded
    assert Bodies(10).render(None, None, False, Usage()) == (None, None)


def test_stream_summaries_from_native_events() -> None:
    openai = (
        b'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n'
        b'data: {"choices":[{"delta":{"content":"lo","tool_calls":[{"index":0,"id":"c1",'
        b'"function":{"name":"f","arguments":"{\\"a\\""}}]}}]}\n\n'
        b'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]},'
        b'"finish_reason":"tool_calls"}]}\n\ndata: [DONE]\n\n'
    )
    assert json.loads(summarize("openai", "chat", openai, Usage(7, 0, 0, 3, 0)) or "") == {
        "content": "Hello",
        "tool_calls": [{"id": "c1", "name": "f", "arguments": '{"a":1}'}],
        "finish_reason": "tool_calls",
        "input_tokens": 7,
        "output_tokens": 3,
    }
    anthropic = (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"thinking_delta","thinking":"hmm"}}\n\n'
        b'data: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"signature_delta","signature":"sig"}}\n\n'
        b'data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hi"}}\n\n'
        b'data: {"type":"message_delta","delta":{"stop_reason":"end_turn"}}\n\n'
    )
    assert json.loads(summarize("anthropic", "messages", anthropic, Usage()) or "") == {
        "content": "Hi",
        "thinking": "hmm",
        "thinking_signature": "sig",
        "finish_reason": "end_turn",
    }
    gemini = (
        b'[{"candidates":[{"content":{"parts":[{"text":"Yo"},'
        b'{"functionCall":{"name":"g","args":{"x":2}}}]},"finishReason":"STOP"}]}]'
    )
    assert json.loads(summarize("gemini", "stream_generate", gemini, Usage()) or "") == {
        "content": "Yo",
        "tool_calls": [{"id": None, "name": "g", "arguments": '{"x": 2}'}],
        "finish_reason": "STOP",
    }
    assert summarize("openai", "chat", b"data: not json\n\n", Usage()) is None


def test_a_stream_that_is_not_summarisable_or_overflows_is_kept_raw() -> None:
    b = _bodies(1000, b"{}", [b"data: nonsense\n\n"], b"text/event-stream")
    assert b.render("openai", "chat", True, Usage())[1] == "data: nonsense\n\n"
    frame = b'data: {"choices":[{"delta":{"content":"word "}}]}\n\n'
    b = _bodies(100, b"{}", [frame] * 20, b"text/event-stream")  # 4x the cap kept raw, then cut
    assert len(b.resp) == 400
    stored = b.render("openai", "chat", True, Usage())[1] or ""
    assert stored.startswith("data: {") and stored.endswith(f"…[truncated {len(frame) * 20 - 100} bytes]")


# -- through the real relay ----------------------------------------------------------------


def _row(relay: RelayServer, request_id: str) -> dict[str, Any]:
    rt = relay.app.app.state.runtime
    deadline = time.monotonic() + 10
    while True:
        settle(rt)
        with relay.ctx.store.reading() as db:
            rows = [
                dict(r) for r in db.query("SELECT * FROM request_logs WHERE request_id = ?", [request_id])
            ]
        if rows or time.monotonic() > deadline:
            assert len(rows) == 1, rows
            return rows[0]
        time.sleep(0.02)


def _post(relay: RelayServer, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    auth = {"authorization": f"Bearer {relay.api_key}", "content-type": "application/json", **headers}
    return httpx.post(relay.url + path, content=json.dumps(body).encode(), headers=auth, timeout=30)


def _chat(model: str, stream: bool) -> dict[str, Any]:
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi there"}]}


def test_bodies_stored_and_no_credential(relay_all: RelayServer) -> None:
    relay_all.emulators["openai"].set_default(Reply(text="plain answer", usage=EmuUsage(input=4, output=2)))
    body = _chat(MODEL["openai"], False)
    r = _post(relay_all, "/v1/chat/completions", body, cookie="session=cookie-secret-9")
    assert r.status_code == 200
    row = _row(relay_all, r.headers["x-request-id"])
    assert json.loads(row["request_body"]) == body
    assert json.loads(row["response_body"]) == r.json()  # JSON stored as received
    flat = json.dumps(row)
    assert relay_all.api_key not in flat and "cookie-secret-9" not in flat

    relay_all.emulators["anthropic"].set_default(
        Reply(
            text="streamed words here",
            thinking="pondering",
            signature="sig-1",
            usage=EmuUsage(input=9, output=4),
        )
    )
    claude = {
        "model": MODEL["anthropic"],
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "q"}],
    }
    r = _post(relay_all, "/v1/messages", claude, **{"x-api-key": relay_all.api_key})
    assert r.status_code == 200 and "message_stop" in r.text, r.text
    row = _row(relay_all, r.headers["x-request-id"])
    summary = json.loads(row["response_body"])
    assert summary["content"] == "streamed words here" and summary["finish_reason"] == "end_turn"
    assert (summary["input_tokens"], summary["output_tokens"]) == (row["input_tokens"], row["output_tokens"])
    assert relay_all.api_key not in json.dumps(row)


def test_translated_stream_with_a_tool_call_is_summarised(relay_all: RelayServer) -> None:
    relay_all.emulators["gemini"].set_default(
        Reply(text="calling", tool_calls=[ToolCall("lookup", {"q": "x"})], usage=EmuUsage(input=3, output=5))
    )
    r = _post(relay_all, "/v1/chat/completions", _chat(MODEL["gemini"], True))
    assert r.status_code == 200
    summary = json.loads(_row(relay_all, r.headers["x-request-id"])["response_body"])
    assert summary["content"] == "calling" and summary["finish_reason"] == "tool_calls"
    assert [(t["name"], json.loads(t["arguments"])) for t in summary["tool_calls"]] == [
        ("lookup", {"q": "x"})
    ]


def test_capped_and_disabled(relay_all: RelayServer) -> None:
    relay_all.emulators["openai"].set_default(Reply(text="an answer that is long enough to be cut " * 4))
    relay_all.configure({"monitor": {"max_captured_body_bytes": 64}})
    body = _chat(MODEL["openai"], False)
    r = _post(relay_all, "/v1/chat/completions", body)
    row = _row(relay_all, r.headers["x-request-id"])
    sent = json.dumps(body).encode()
    assert row["request_body"] == sent[:64].decode() + f"…[truncated {len(sent) - 64} bytes]"
    assert row["response_body"].endswith(f"…[truncated {len(r.content) - 64} bytes]")

    relay_all.configure({"monitor": {"capture_bodies": False}})
    r = _post(relay_all, "/v1/chat/completions", body)
    row = _row(relay_all, r.headers["x-request-id"])
    assert row["status"] == 200 and row["request_body"] is None and row["response_body"] is None


@pytest.mark.parametrize("upstream", ["openai", "anthropic"])  # same-format bytes, then translated
def test_a_stream_cut_after_commit_is_stream_interrupted(relay_all: RelayServer, upstream: str) -> None:
    relay_all.emulators[upstream].set_default(Reply(text="one two three four five six seven", drop_after=3))
    r = _post(relay_all, "/v1/chat/completions", _chat(MODEL[upstream], True))
    assert r.status_code == 200 and "error" in r.text  # the client saw the in-band error
    row = _row(relay_all, r.headers["x-request-id"])
    assert row["status"] == 200
    assert row["error"].startswith("stream_interrupted: "), row["error"]

    relay_all.emulators[upstream].set_default(Reply(text="complete"))
    r = _post(relay_all, "/v1/chat/completions", _chat(MODEL[upstream], True))
    assert _row(relay_all, r.headers["x-request-id"])["error"] is None
