"""Per-request routing and selection cost as the number of accounts grows (issue 4).

    python -m tests.benchmarks.selection_bench

Builds N openai accounts serving `gpt-*`, then times `Relay.route()` (cached per model) and
`Scheduler.select()` for fresh requests with session ids, at N = 10, 100, 1000, in Balance
mode (new sessions mostly take the 60 s reuse lock) and PerformanceFirst (P2C every time).
Bounded: a fixed number of iterations per point, no network.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from gephyr_core.config import build_settings
from gephyr_core.relay.pipeline import Relay
from gephyr_core.relay.routes import normalise_model
from gephyr_core.relay.scheduler import Plan
from gephyr_core.relay.trace import Trace

ITERATIONS = 2000


def _accounts(n: int) -> list[dict[str, object]]:
    base = {"provider": "openai", "models": ["gpt-*"], "secret": "enc:x", "disabled": False,
            "proxy_disabled": False, "forbidden": False, "validation_blocked": False, "quota": None}
    return [{**base, "id": str(uuid.uuid4()), "label": f"a{i}", "priority": i} for i in range(n)]


async def _measure(n: int, mode: str) -> tuple[float, float]:
    settings = build_settings({"auth": {"api_key": "sk-" + "b" * 32}, "scheduling": {"mode": mode}}, {})
    accounts = _accounts(n)
    relay = Relay(lambda: settings, lambda: accounts, lambda field, value: value)
    route_ns = select_ns = 0
    for i in range(ITERATIONS):
        t0 = time.perf_counter_ns()
        route = relay.route("gpt-4o")
        t1 = time.perf_counter_ns()
        plan = Plan(f"s{i}", normalise_model(route.upstream_model), "openai", "agent", Trace())
        await relay.scheduler.select(route.routable, plan)
        t2 = time.perf_counter_ns()
        route_ns += t1 - t0
        select_ns += t2 - t1
    await relay.aclose()
    return route_ns / ITERATIONS / 1000, select_ns / ITERATIONS / 1000


def main() -> None:
    print("| accounts | mode | route µs/request | select µs/request |")
    print("|---:|---|---:|---:|")
    for mode in ("Balance", "PerformanceFirst"):
        for n in (10, 100, 1000):
            route_us, select_us = asyncio.run(_measure(n, mode))
            print(f"| {n} | {mode} | {route_us:.1f} | {select_us:.1f} |")


if __name__ == "__main__":
    main()
