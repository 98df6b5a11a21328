"""Keep-alive frames while an upstream stream is quiet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx

from gephyr_core.relay.keepalive import with_keepalive
from tests.emulators.script import Reply
from tests.relay.harness import RelayServer


async def _slow() -> AsyncIterator[bytes]:
    yield b"a"
    await asyncio.sleep(0.25)
    yield b"b"


def test_pings_inserted_only_when_quiet() -> None:
    async def collect(fmt: str) -> list[bytes]:
        return [c async for c in with_keepalive(_slow(), fmt, 0.1)]

    anthropic = asyncio.run(collect("anthropic"))
    assert anthropic[0] == b"a" and anthropic[-1] == b"b"
    assert anthropic[1:-1] and all(p.startswith(b"event: ping") for p in anthropic[1:-1])
    assert asyncio.run(collect("gemini")) == [b"a", b"b"]
    assert b": keep-alive\n\n" in asyncio.run(collect("chat"))


def test_relay_sends_pings_on_a_slow_stream(relay_server: RelayServer) -> None:
    relay_server.add_account("anthropic")
    relay_server.configure({"protocols": {"ping_interval_seconds": 1}})
    relay_server.emulators["anthropic"].push(Reply("slow answer here", chunk_words=1, chunk_delay=0.6))
    body = {"model": "claude-emu-4", "max_tokens": 50, "stream": True,
            "messages": [{"role": "user", "content": "hi"}]}
    with httpx.stream("POST", relay_server.url + "/v1/messages", json=body, timeout=30,
                      headers={"x-api-key": relay_server.api_key, "anthropic-version": "2023-06-01"}) as r:
        text = b"".join(r.iter_bytes()).decode()
    assert "event: ping" in text and text.rstrip().endswith('data: {"type":"message_stop"}')
