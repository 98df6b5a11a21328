"""The per-route ranking behind P2C (routing.md §7.1): order, parking, and the selection deadline."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from gephyr_core.config import build_settings
from gephyr_core.relay.bindings import Bindings
from gephyr_core.relay.compliance import ComplianceGuard
from gephyr_core.relay.ranking import Ranking
from gephyr_core.relay.scheduler import NoAccount, Plan, Scheduler
from gephyr_core.relay.state import LimitRecord, MemoryState
from gephyr_core.relay.trace import Trace


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def accounts(n: int, **extra: Any) -> list[dict[str, Any]]:
    base = {"provider": "openai", "models": ["gpt-*"], "secret": "enc:x", "disabled": False,
            "proxy_disabled": False, "forbidden": False, "validation_blocked": False, "quota": None}
    return [{**base, "id": f"acc-{i:04d}", "label": f"a{i}", "priority": i, **extra} for i in range(n)]


def with_share(acc: dict[str, Any], pct: int) -> dict[str, Any]:
    return {**acc, "quota": {"models": [{"name": "gpt-4o", "percentage": pct}]}}


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in rows]


def test_order_is_share_then_health_then_priority() -> None:
    state = MemoryState(Clock())
    accs = accounts(4)
    accs[3] = with_share(accs[3], 100)
    accs[0] = with_share(accs[0], 40)
    ranking = Ranking(accs, "gpt-4o", state, protection=False)
    assert ids(ranking.head(set())) == ["acc-0001", "acc-0002", "acc-0003", "acc-0000"]
    state.failed("acc-0001")  # health 0.8: behind every healthy account with the same share
    assert ids(ranking.head(set())) == ["acc-0002", "acc-0003", "acc-0001", "acc-0000"]
    for _ in range(4):
        state.succeeded("acc-0001")  # back to 1.0 step by step: it moves back to the front
    assert ids(ranking.head(set())) == ["acc-0001", "acc-0002", "acc-0003", "acc-0000"]
    assert ids(ranking.head({"acc-0001", "acc-0003"}, limit=2)) == ["acc-0002", "acc-0000"]


def test_records_park_until_reset_and_clear_brings_back() -> None:
    clock = Clock()
    state = MemoryState(clock)
    ranking = Ranking(accounts(3), "gpt-4o", state, protection=False)
    state.lock(LimitRecord("acc-0000", "gpt-4o", "RATE_LIMIT_EXCEEDED", clock.now + 30))
    state.lock(LimitRecord("acc-0001", "other-model", "RATE_LIMIT_EXCEEDED", clock.now + 30))
    state.lock(LimitRecord("acc-0002", "*", "SERVER_ERROR", clock.now + 8))
    assert ids(ranking.head(set())) == ["acc-0001"]  # another model's record does not park it
    assert ranking.soonest(set()) == clock.now + 8
    assert ranking.soonest({"acc-0002"}) == clock.now + 30
    clock.now += 9
    ranking.wake(clock.now)
    assert ids(ranking.head(set())) == ["acc-0001", "acc-0002"]
    state.clear("acc-0000", "gpt-4o")
    assert ids(ranking.head(set())) == ["acc-0000", "acc-0001", "acc-0002"]
    # a later record extends the park; the earlier wake-up entry is ignored
    state.lock(LimitRecord("acc-0000", "gpt-4o", "RATE_LIMIT_EXCEEDED", clock.now + 5))
    state.lock(LimitRecord("acc-0000", "*", "SERVER_ERROR", clock.now + 50))
    clock.now += 6
    ranking.wake(clock.now)
    assert "acc-0000" not in ids(ranking.head(set()))
    state.reset()
    assert ids(ranking.head(set())) == ["acc-0000", "acc-0001", "acc-0002"]


def test_protected_accounts_never_enter_the_order() -> None:
    state = MemoryState(Clock())
    accs = accounts(2)
    accs[0]["protected_models"] = ["gpt-4o"]
    ranking = Ranking(accs, "gpt-4o", state, protection=True)
    assert ids(ranking.head(set())) == ["acc-0001"] and ranking.protected == {"acc-0000"}
    state.lock(LimitRecord("acc-0000", "*", "SERVER_ERROR", 2e9))
    state.clear()
    assert ids(ranking.head(set())) == ["acc-0001"]


def _scheduler(accs: list[dict[str, Any]], clock: Clock, **config: Any) -> Scheduler:
    settings = build_settings({"auth": {"api_key": "sk-" + "b" * 32}, **config}, {})
    return Scheduler(MemoryState(clock), Bindings(clock=clock), lambda: settings, random.Random(7))


def _plan(session: str | None = None) -> Plan:
    return Plan(session, "gpt-4o", "openai", "agent", Trace())


def test_p2c_draws_from_the_five_best_of_a_large_pool() -> None:
    clock = Clock()
    accs = accounts(1000)
    sched = _scheduler(accs, clock, scheduling={"mode": "PerformanceFirst"})
    for i in range(990):  # most of the pool is limited: the walk never visits them
        sched.state.lock(LimitRecord(accs[i]["id"], "*", "SERVER_ERROR", clock.now + 60))
    chosen = {asyncio.run(sched.select(accs, _plan()))[0]["id"] for _ in range(60)}  # type: ignore[index]
    assert chosen <= {f"acc-{i:04d}" for i in range(990, 995)} and len(chosen) > 1
    plan = _plan()
    asyncio.run(sched.select(accs, plan))
    assert len(plan.trace.skipped) == 16 and plan.trace.to_dict()["skipped_total"] == 990


def test_every_candidate_tried_or_limited() -> None:
    clock = Clock()
    accs = accounts(2)
    sched = _scheduler(accs, clock)
    plan = _plan()
    plan.tried.update({"acc-0000", "acc-0001"})
    assert asyncio.run(sched.select(accs, plan)) is None
    for acc in accs:
        sched.state.lock(LimitRecord(acc["id"], "*", "SERVER_ERROR", clock.now + 40))
    with pytest.raises(NoAccount) as refused:
        asyncio.run(sched.select(accs, _plan()))
    assert refused.value.status == 429 and refused.value.retry_after == 40


def test_selection_deadline_gives_503() -> None:
    clock = Clock()
    accs = accounts(1)
    sched = _scheduler(accs, clock)
    sched.state.lock(LimitRecord("acc-0000", "*", "SERVER_ERROR", clock.now + 2))
    sched.deadline_seconds = 0.2  # the short wait (2 s) cannot finish inside the deadline
    with pytest.raises(NoAccount) as refused:
        asyncio.run(sched.select(accs, _plan()))
    assert refused.value.status == 503 and "0.2 s" in refused.value.message


def test_a_deliberate_sticky_wait_is_not_selection_time() -> None:
    clock = Clock()
    accs = accounts(2)
    sched = _scheduler(accs, clock, scheduling={"mode": "CacheFirst", "max_wait_seconds": 60})
    sched.bindings.bind("conv", "gpt-4o", "acc-0001")
    sched.state.lock(LimitRecord("acc-0001", "gpt-4o", "RATE_LIMIT_EXCEEDED", clock.now + 1))
    sched.deadline_seconds = 0.3
    chosen = asyncio.run(sched.select(accs, _plan("conv")))
    assert chosen is not None and chosen == (accs[1], "sticky")


def test_account_switches_are_counted() -> None:
    clock = Clock()
    accs = accounts(3)
    sched = _scheduler(accs, clock, scheduling={"mode": "PerformanceFirst"})
    guard = ComplianceGuard(lambda: sched._settings(), clock=clock)
    sched.on_switch = guard.switched
    picks = [asyncio.run(sched.select(accs, _plan()))[0]["id"] for _ in range(20)]  # type: ignore[index]
    switches = sum(1 for a, b in zip(picks, picks[1:], strict=False) if a != b)
    assert switches > 0 and guard.snapshot()["account_switches_last_minute"] == switches
    clock.now += 61
    assert guard.snapshot()["account_switches_last_minute"] == 0


def test_ranking_is_rebuilt_for_a_new_candidate_list() -> None:
    clock = Clock()
    accs = accounts(3)
    sched = _scheduler(accs, clock)
    settings = sched._settings()
    first = sched.ranking(accs, "gpt-4o", settings)
    assert sched.ranking(accs, "gpt-4o", settings) is first
    fresh = [dict(a) for a in accs]
    assert sched.ranking(fresh, "gpt-4o", settings) is not first


def test_a_quota_change_in_place_moves_the_account() -> None:
    clock = Clock()
    state = MemoryState(clock)
    accs = accounts(3)
    ranking = Ranking(accs, "gpt-4o", state, protection=True)
    accs[0]["quota"] = {"models": [{"name": "gpt-4o", "percentage": 20}]}
    state.quota_changed("acc-0000")  # what the quota tap does after updating the live account
    assert ids(ranking.head(set())) == ["acc-0001", "acc-0002", "acc-0000"]
    accs[1]["protected_models"] = ["gpt-4o"]
    state.quota_changed("acc-0001")
    assert ids(ranking.head(set())) == ["acc-0002", "acc-0000"] and ranking.protected == {"acc-0001"}
    state.lock(LimitRecord("acc-0001", "*", "SERVER_ERROR", clock.now + 30))  # ignored while protected
    accs[1]["protected_models"] = []
    state.quota_changed("acc-0001")  # protection lifted while limited: parked, not available
    assert "acc-0001" not in ids(ranking.head(set())) and ranking.soonest(set()) == clock.now + 30
    clock.now += 31
    ranking.wake(clock.now)
    assert ids(ranking.head(set())) == ["acc-0001", "acc-0002", "acc-0000"]
