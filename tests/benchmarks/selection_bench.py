"""Per-request routing and selection cost as the number of accounts grows (issue 4).

    python -m tests.benchmarks.selection_bench

Builds N openai accounts serving `gpt-*`, then times `Relay.route()` (cached per model) and
`Scheduler.select()` for fresh requests with session ids, at N = 10, 100, 1,000 and 10,000,
in Balance mode (new sessions mostly take the 60 s reuse lock), PerformanceFirst (P2C every
time) and PerformanceFirst with half the pool rate-limited and every request failing over
once (a health change, a record and its clearing per request: the ranking moves all the
time).
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
from gephyr_core.relay.state import LimitRecord
from gephyr_core.relay.trace import Trace

ITERATIONS = 2000


def _accounts(n: int) -> list[dict[str, object]]:
    base = {"provider": "openai", "models": ["gpt-*"], "secret": "enc:x", "disabled": False,
            "proxy_disabled": False, "forbidden": False, "validation_blocked": False, "quota": None}
    return [{**base, "id": str(uuid.uuid4()), "label": f"a{i}", "priority": i} for i in range(n)]


async def _measure(n: int, mode: str, churn: bool) -> tuple[float, float, float]:
    settings = build_settings({"auth": {"api_key": "sk-" + "b" * 32}, "scheduling": {"mode": mode}}, {})
    accounts = _accounts(n)
    relay = Relay(lambda: settings, lambda: accounts, lambda field, value: value)
    state = relay.scheduler.state
    if churn:
        for acc in accounts[: n // 2]:
            state.lock(LimitRecord(str(acc["id"]), "*", "SERVER_ERROR", state.clock() + 3600))
    # the first request resolves the route and builds its ranking (O(n log n), once per
    # account or config change); timed apart so the per-request columns show the steady state
    t0 = time.process_time_ns()
    first = relay.route("gpt-4o")
    await relay.scheduler.select(first.routable, Plan("warm", "gpt-4o", "openai", "agent", Trace()))
    build_ms = (time.process_time_ns() - t0) / 1e6
    route_ns = select_ns = 0
    for i in range(ITERATIONS):
        t0 = time.process_time_ns()
        route = relay.route("gpt-4o")
        t1 = time.process_time_ns()
        plan = Plan(f"s{i}", normalise_model(route.upstream_model), "openai", "agent", Trace())
        chosen = await relay.scheduler.select(route.routable, plan)
        if churn and chosen is not None:  # the attempt fails: health down, a short record
            aid = chosen[0]["id"]
            state.failed(aid)
            state.lock(LimitRecord(aid, "gpt-4o", "RATE_LIMIT_EXCEEDED", state.clock() + 60))
            plan.tried.add(aid)
            plan.attempt = 1
            await relay.scheduler.select(route.routable, plan)
            state.clear(aid, "gpt-4o")  # its record ends: the account returns to the ranking
        t2 = time.process_time_ns()
        route_ns += t1 - t0
        select_ns += t2 - t1
    await relay.aclose()
    return build_ms, route_ns / ITERATIONS / 1000, select_ns / ITERATIONS / 1000


def main() -> None:
    print("| accounts | mode | first request (build) ms | route µs/request | select µs/request |")
    print("|---:|---|---:|---:|---:|")
    for mode, churn in (("Balance", False), ("PerformanceFirst", False), ("PerformanceFirst", True)):
        label = mode + (" + failover churn" if churn else "")
        for n in (10, 100, 1000, 10000):
            build_ms, route_us, select_us = asyncio.run(_measure(n, mode, churn))
            print(f"| {n} | {label} | {build_ms:.1f} | {route_us:.1f} | {select_us:.1f} |")


if __name__ == "__main__":
    main()
