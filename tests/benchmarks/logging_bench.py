"""Relay latency with request logging off, on (with and without bodies) and on with a slowed writer.

Not collected by pytest. Run: ``python -m tests.benchmarks.logging_bench [--requests 300]``.
A real relay (uvicorn on loopback) in front of the OpenAI emulator, in this process; each mode
runs the same bounded load (same-format chat, half streamed) in alternation over a few rounds,
so drift of the shared machine hits every mode alike. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from gephyr_core.admin import catalog, invoke, open_context
from gephyr_core.server import create_app
from gephyr_core.server.serve import prepare
from tests.emulators import openai_api
from tests.emulators.script import Reply, Usage
from tests.emulators.server import _Server

MODES: dict[str, tuple[dict[str, Any], float]] = {
    # name: (monitor config, seconds added to each batch write)
    "logging off": ({"enabled": False, "capture_bodies": False, "queue_size": 10000}, 0.0),
    "logging on, no bodies": ({"enabled": True, "capture_bodies": False, "queue_size": 10000}, 0.0),
    "logging on, bodies": ({"enabled": True, "capture_bodies": True, "queue_size": 10000}, 0.0),
    "logging on, writer slowed (2 s/batch, queue 100)": (
        {"enabled": True, "capture_bodies": True, "queue_size": 100},
        2.0,
    ),
}


@contextmanager
def _serve(app: Any, lifespan: str = "off") -> Iterator[str]:
    """uvicorn on a loopback port whose accepted sockets get TCP_NODELAY (as `gephyr serve` does):
    without it every response waits ~40 ms for a delayed ACK and hides what is measured."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, loop="asyncio", lifespan=lifespan, log_level="warning", access_log=False)  # type: ignore[arg-type]
    server = _Server(config)
    thread = threading.Thread(target=server.run_in_thread, args=(sock,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if server.failure is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start") from server.failure
            time.sleep(0.005)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


async def _load(url: str, key: str, n: int, concurrency: int) -> list[float]:
    """`n` chat requests (every other one streamed); the latency of each in ms, last byte read."""
    sem = asyncio.Semaphore(concurrency)
    out: list[float] = []
    async with httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {key}"}, timeout=30) as c:

        async def one(i: int) -> None:
            body = {
                "model": "gpt-4o-mini",
                "stream": i % 2 == 1,
                "messages": [{"role": "user", "content": f"question {i} " + "context " * 40}],
            }
            async with sem:
                start = time.perf_counter()
                r = await c.post("/v1/chat/completions", json=body)
                await r.aread()
                out.append((time.perf_counter() - start) * 1000)
                if r.status_code != 200:
                    raise SystemExit(f"request failed: {r.status_code} {r.text[:200]}")

        await asyncio.gather(*(one(i) for i in range(n)))
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per mode and round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds over all modes")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    emulator = openai_api.new_emulator()
    emulator.set_default(Reply(text="a short answer of a few words", usage=Usage(input=12, output=7)))
    with tempfile.TemporaryDirectory() as tmp, _serve(openai_api.create_app(emulator)) as upstream:
        ctx = open_context(Path(tmp), {})
        rt = prepare(ctx, {}, lambda line: None)
        key = str(rt.settings.get("auth.api_key"))
        args_add = {"provider": "openai", "api_key": openai_api.API_KEY, "base_url": f"{upstream}/v1"}
        invoke(ctx, catalog()["accounts.add"], args_add)
        ctx.records_changed()
        app = create_app(rt)
        results: dict[str, list[float]] = {m: [] for m in MODES}
        dropped: dict[str, int] = dict.fromkeys(MODES, 0)
        with _serve(app, lifespan="on") as url:
            runtime = app.app.state.runtime
            asyncio.run(_load(url, key, 50, args.concurrency))  # warm up pools and caches
            for _ in range(args.rounds):
                for mode, (monitor, slowdown) in MODES.items():
                    invoke(ctx, catalog()["config.save"], {"config": {"monitor": monitor}})
                    ctx.config_changed()
                    time.sleep(1.5)  # the server picks the saved file up within a second
                    runtime.monitor.slowdown = slowdown
                    before = runtime.monitor.dropped
                    results[mode] += asyncio.run(_load(url, key, args.requests, args.concurrency))
                    dropped[mode] += runtime.monitor.dropped - before
                    runtime.monitor.slowdown = 0.0
        ctx.close()
    print(f"{args.rounds} rounds x {args.requests} requests per mode, concurrency {args.concurrency}\n")
    print("| mode | requests | p50 ms | p99 ms | mean ms | dropped log writes |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode, values in results.items():
        p50, p99, mean = _pct(values, 0.5), _pct(values, 0.99), statistics.fmean(values)
        print(f"| {mode} | {len(values)} | {p50:.2f} | {p99:.2f} | {mean:.2f} | {dropped[mode]} |")


if __name__ == "__main__":
    main()
