"""Request logs under load through the real relay: one row per request, tokens right, sums agree."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from gephyr_core.monitor.writer import settle
from tests.emulators.script import Reply, Usage
from tests.relay.harness import MODEL, RelayServer

ROUNDS = 400  # x 6 kinds of request = 2,400 requests (the issue: "a few thousand"), bounded


def _runtime(relay: RelayServer) -> Any:
    return relay.app.app.state.runtime


async def _burst(relay: RelayServer, rounds: int) -> list[str]:
    """Send `rounds` x (each upstream, streamed and not); return the request ids answered 200."""
    headers = {"authorization": f"Bearer {relay.api_key}"}
    sem = asyncio.Semaphore(32)
    ids: list[str] = []
    async with httpx.AsyncClient(base_url=relay.url, headers=headers, timeout=30) as client:

        async def one(model: str, stream: bool) -> None:
            body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}
            async with sem:
                r = await client.post("/v1/chat/completions", json=body)
                assert r.status_code == 200, r.text
                ids.append(r.headers["x-request-id"])

        await asyncio.gather(
            *(one(m, s) for _ in range(rounds) for m in MODEL.values() for s in (False, True))
        )
    return ids


def _wait_written(relay: RelayServer, n: int) -> None:
    rt = _runtime(relay)
    deadline = time.monotonic() + 60
    while rt.monitor.written < n and time.monotonic() < deadline:
        time.sleep(0.05)
    settle(rt)


def test_one_row_per_request_with_the_emulators_usage(relay_all: RelayServer) -> None:
    for i, emu in enumerate(relay_all.emulators.values()):
        emu.set_default(Reply(text="ok", usage=Usage(input=11 + i, output=5 + i, cache_read=3, reasoning=2)))
    ids = asyncio.run(_burst(relay_all, ROUNDS))
    _wait_written(relay_all, len(ids))
    store = relay_all.ctx.store
    with store.reading() as db:
        rows = list(db.query("SELECT * FROM request_logs"))
        usage = db.execute(
            "SELECT sum(input_tokens), sum(output_tokens), count(*) FROM token_usage"
        ).fetchone()
        hourly = db.execute(
            "SELECT sum(input_tokens), sum(output_tokens), sum(request_count) FROM token_usage_hourly"
        ).fetchone()
    assert len(rows) == len(ids) == ROUNDS * 6
    assert sorted(r["request_id"] for r in rows) == sorted(ids)  # exactly one row each
    expected = {"openai": (11, 5), "anthropic": (12, 6), "gemini": (13, 7)}
    for row in rows:
        assert row["status"] == 200 and row["route"] == "chat" and row["protocol"] == "openai"
        assert (row["input_tokens"], row["output_tokens"]) == expected[row["provider"]], row
        assert row["trace"] and row["account_id"] and row["ttfb_ms"] is not None
    log_sums = (sum(r["input_tokens"] for r in rows), sum(r["output_tokens"] for r in rows), len(rows))
    assert tuple(usage) == log_sums
    assert tuple(hourly) == log_sums
    assert _runtime(relay_all).monitor.dropped == 0


def test_a_slowed_writer_drops_and_counts_instead_of_slowing_requests(relay_all: RelayServer) -> None:
    rt = _runtime(relay_all)
    relay_all.configure({"monitor": {"queue_size": 100}})
    rt.monitor.slowdown = 3.0  # each batch write takes three seconds
    try:
        started = time.monotonic()
        ids = asyncio.run(_burst(relay_all, 50))
        elapsed = time.monotonic() - started
    finally:
        rt.monitor.slowdown = 0.0
    assert len(ids) == 300
    deadline = time.monotonic() + 5  # a record is submitted just after its last byte went out
    while rt.monitor.total_requests < 300 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert rt.monitor.total_requests == 300
    assert rt.monitor.dropped > 0  # the queue filled while the writer slept: counted, not awaited
    assert elapsed < 6.0  # had requests waited on the writer, 300 of them would span two slept batches
