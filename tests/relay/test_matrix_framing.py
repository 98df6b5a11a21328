"""Relay matrix at byte level: every stream is framed and terminated in its client's format.

The SDKs are lenient about some framing details, so these tests read the raw bytes (httpx):
``data: `` spacing, ``event:`` lines, the one terminator, and that a failure never ends
with a success terminator (protocols.md §1.2, §6; hygiene invariant 2).
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.emulators.script import Error, Reply
from tests.relay import matrix_support as ms
from tests.relay.harness import RelayServer
from tests.relay.matrix_support import ALIAS, FORMATS, PROVIDERS

matrix_relay = ms.matrix_relay
mx = ms.mx

GEMINI_MODES = ("gemini", "gemini-array")
DROP = {"openai": 3, "anthropic": 5, "gemini": 2}


def _request(mode: str, model: str) -> tuple[str, dict[str, Any]]:
    if mode == "chat":
        return "/v1/chat/completions", {"model": model, "stream": True,
                                        "messages": [{"role": "user", "content": "one two"}]}
    if mode == "completions":
        return "/v1/completions", {"model": model, "stream": True, "prompt": "one two", "max_tokens": 50}
    if mode == "responses":
        return "/v1/responses", {"model": model, "stream": True, "input": "one two"}
    if mode == "anthropic":
        return "/v1/messages", {"model": model, "stream": True, "max_tokens": 50,
                                "messages": [{"role": "user", "content": "one two"}]}
    query = "?alt=sse" if mode == "gemini" else ""
    body = {"contents": [{"parts": [{"text": "one two"}]}]}
    return f"/v1beta/models/{model}:streamGenerateContent{query}", body


def _stream(relay: RelayServer, mode: str, model: str) -> tuple[httpx.Response, bytes]:
    path, body = _request(mode, model)
    headers = {"authorization": f"Bearer {relay.api_key}", "anthropic-version": "2023-06-01"}
    with httpx.stream("POST", relay.url + path, json=body, headers=headers, timeout=10) as r:
        return r, r.read()


def _frames(raw: bytes, sep: bytes = b"\n\n") -> list[bytes]:
    assert raw.endswith(sep), raw[-80:]
    return raw[: -len(sep)].split(sep)


def _sse(raw: bytes, named: bool) -> list[tuple[str | None, str]]:
    """(event name, data) per frame, checking the line layout of each frame."""
    out: list[tuple[str | None, str]] = []
    for frame in _frames(raw):
        lines = frame.decode().split("\n")
        if lines[0].startswith(":"):
            continue  # keep-alive comment
        if named:
            assert len(lines) == 2 and lines[0].startswith("event: "), frame
            out.append((lines[0][len("event: "):], lines[1]))
        else:
            assert len(lines) == 1, frame
            out.append((None, lines[0]))
        assert out[-1][1].startswith("data: ") and not out[-1][1].startswith("data:  "), frame
    return [(name, data[len("data: "):]) for name, data in out]


def _check_success(mode: str, raw: bytes) -> None:
    if mode in ("chat", "completions"):
        frames = _sse(raw, named=False)
        assert frames[-1][1] == "[DONE]" and sum(d == "[DONE]" for _, d in frames) == 1
        payloads = [json.loads(d) for _, d in frames[:-1]]
        assert all("error" not in p for p in payloads)
        assert payloads[-1]["choices"][0]["finish_reason"] == "stop" or payloads[-1]["choices"] == []
    elif mode == "responses":
        frames = _sse(raw, named=True)
        payloads = [json.loads(d) for _, d in frames]
        assert all(name == p["type"] for (name, _), p in zip(frames, payloads, strict=True))
        assert [p["sequence_number"] for p in payloads] == list(range(len(payloads)))
        assert payloads[0]["type"] == "response.created" and payloads[-1]["type"] == "response.completed"
        assert b"[DONE]" not in raw
    elif mode == "anthropic":
        frames = _sse(raw, named=True)
        payloads = [json.loads(d) for _, d in frames if json.loads(d)["type"] != "ping"]
        assert all(name == json.loads(d)["type"] for name, d in frames)
        kinds = [p["type"] for p in payloads]
        assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
        assert kinds.count("message_stop") == 1
    elif mode == "gemini":
        frames = _frames(raw, b"\r\n\r\n")
        assert all(f.startswith(b"data: {") and b"\n" not in f for f in frames)
        chunks = [json.loads(f[len(b"data: "):]) for f in frames]
        assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
        assert all("finishReason" not in c["candidates"][0] for c in chunks[:-1])
    else:
        chunks = json.loads(raw)
        assert isinstance(chunks, list) and chunks[-1]["candidates"][0]["finishReason"] == "STOP"


def _check_failure(mode: str, raw: bytes, passthrough: bool = False) -> None:
    if mode in ("chat", "completions"):
        frames = _sse(raw, named=False)
        assert all(d != "[DONE]" for _, d in frames)
        last = json.loads(frames[-1][1])
        if not passthrough:  # the fast path passes the upstream's own error frame on unchanged
            assert last["error"]["code"] == "stream_interrupted" and last["error"]["type"] == "upstream_error"
        assert "error" in last and all("error" not in json.loads(d) for _, d in frames[:-1])
    elif mode == "responses":
        frames = _sse(raw, named=True)
        kinds = [name for name, _ in frames]
        assert kinds[-2:] == ["error", "response.failed"] and "response.completed" not in kinds
        failed = json.loads(frames[-1][1])["response"]
        assert failed["status"] == "failed" and failed["error"]["code"]
        assert [json.loads(d)["sequence_number"] for _, d in frames] == list(range(len(frames)))
    elif mode == "anthropic":
        frames = _sse(raw, named=True)
        kinds = [name for name, _ in frames]
        assert kinds[-1] == "error" and kinds.count("error") == 1
        assert "message_stop" not in kinds and "message_delta" not in kinds
        assert json.loads(frames[-1][1])["error"]["type"] in ("api_error", "overloaded_error")
    elif mode == "gemini":
        frames = _frames(raw, b"\r\n\r\n")
        last = json.loads(frames[-1][len(b"data: "):])
        assert last["error"]["status"] in ("INTERNAL", "UNAVAILABLE")
        assert b"finishReason" not in raw and raw.count(b'{"error"') == 1
    else:
        chunks = json.loads(raw)
        assert "error" in chunks[-1] and all("error" not in c for c in chunks[:-1])


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("mode", [*FORMATS[:4], *GEMINI_MODES])
def test_stream_terminates_in_its_format(mx: RelayServer, mode: str, provider: str) -> None:
    r, raw = _stream(mx, mode, ALIAS[provider])
    assert r.status_code == 200, raw
    array = mode == "gemini-array"
    assert r.headers["content-type"].startswith("application/json" if array else "text/event-stream")
    assert "content-length" not in r.headers
    assert r.headers.get("cache-control") == "no-cache"
    _check_success(mode, raw)
    assert b"two" in raw  # the echo went through


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("mode", [*FORMATS[:4], *GEMINI_MODES])
def test_broken_stream_never_ends_like_a_success(mx: RelayServer, mode: str, provider: str) -> None:
    # paced: a dropped connection may discard bytes still unread, so let "alpha" arrive first
    broken = Reply("alpha beta gamma delta epsilon zeta", drop_after=DROP[provider], chunk_delay=0.02)
    mx.emulators[provider].push(broken)
    r, raw = _stream(mx, mode, ALIAS[provider])
    assert r.status_code == 200
    _check_failure(mode, raw)
    assert b"alpha" in raw


@pytest.mark.parametrize("provider", PROVIDERS)
def test_upstream_error_event_mid_stream(mx: RelayServer, provider: str) -> None:
    """An in-band upstream error after the first bytes is passed on as the client's in-band error."""
    overloaded = Error(529 if provider == "anthropic" else 503, "Overloaded")
    for mode in ("chat", "responses", "anthropic", "gemini", "gemini-array"):
        mx.reset_runtime()  # an early error locks the sole account (routing.md §6); start clean
        # paced, so the error arrives after the relay committed to the stream
        mx.emulators[provider].push(Reply("alpha beta gamma", stream_error=overloaded,
                                          error_after=DROP[provider], chunk_delay=0.02))
        before = len(ms.generations(mx.emulators[provider]))
        r, raw = _stream(mx, mode, ALIAS[provider])
        assert r.status_code == 200
        if len(ms.generations(mx.emulators[provider])) - before == 2:
            # the error came in the same read as the first event: nothing had reached the client,
            # so the relay retried (sole candidate) and the echo answered
            _check_success(mode, raw)
            continue
        _check_failure(mode, raw, passthrough=ms.NATIVE[provider] == mode.removesuffix("-array"))
        assert b"alpha" in raw
