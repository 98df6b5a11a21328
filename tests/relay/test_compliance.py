"""The compliance guard and the decision trace, through the running relay."""

from __future__ import annotations

import concurrent.futures

import httpx

from gephyr_core.admin import catalog, invoke
from gephyr_core.config import build_settings
from gephyr_core.relay.compliance import ComplianceGuard
from tests.emulators.script import Error, Reply
from tests.relay.harness import RelayServer, ask


def test_guard_windows_and_cooldowns() -> None:
    now = [1000.0]
    settings = build_settings(
        {
            "compliance": {
                "enabled": True,
                "max_global_requests_per_minute": 3,
                "max_account_requests_per_minute": 2,
                "max_account_concurrency": 1,
                "risk_cooldown_seconds": 5,
            }
        },
        {},
    )
    guard = ComplianceGuard(lambda: settings, clock=lambda: now[0])
    assert guard.acquire("a") is None
    assert guard.acquire("a") == "account concurrency cap reached"
    guard.release("a")
    assert guard.acquire("a") is None
    guard.release("a")
    assert guard.acquire("a") == "account requests-per-minute cap reached"
    assert guard.acquire("b") is None
    guard.release("b")
    assert guard.acquire("c") == "global requests-per-minute cap reached"
    now[0] += 61
    guard.risk("c", 529)
    assert guard.acquire("c") == "account cooldown, 5 s left"
    guard.risk("a", 429)  # a 429 cools down only with cooldown_on_http_429
    assert guard.acquire("a") is None
    assert guard.snapshot()["risk_signals_last_minute"] == 2
    assert guard.budget(3) == 3


def test_caps_hold_under_concurrent_load(two: RelayServer) -> None:
    two.configure(
        {
            "compliance": {
                "enabled": True,
                "max_account_requests_per_minute": 3,
                "max_global_requests_per_minute": 100,
                "max_account_concurrency": 10,
            }
        }
    )
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: ask(two, session=f"load-{i}").status_code, range(10)))
    assert codes.count(200) == 6 and codes.count(429) == 4  # 3 per account per minute, 2 accounts
    assert len(two.emulators["openai"].requests) == 6
    snap = invoke(two.ctx, catalog()["compliance.show"], {}).data
    assert snap["global_requests_in_last_minute"] == 6
    assert sorted(snap["account_requests_in_last_minute"].values()) == [3, 3]


def test_retries_never_exceed_the_cap(two: RelayServer) -> None:
    two.configure({"compliance": {"enabled": True, "max_retry_attempts": 1}})
    two.emulators["openai"].push(Error(500, "down"), Reply("never reached"))
    r = ask(two, session=None)
    assert r.status_code in (500, 502) and len(two.emulators["openai"].requests) == 1


def test_explain_names_the_skipped_account(two: RelayServer) -> None:
    ask(two)
    bound_key = two.emulators["openai"].last_request.header("authorization")
    two.emulators["openai"].push(Error(429, "Rate limit reached", retry_after=30))
    assert ask(two).status_code == 200  # failed over
    third = ask(two)
    assert third.status_code == 200
    data = invoke(two.ctx, catalog()["logs.explain"], {"id": third.headers["x-request-id"]}).data
    trace = data["trace"]
    assert trace["session_id"] == "conv-1" and trace["session_source"] == "header"
    (skip,) = trace["skipped"]
    assert skip["reason"] == "limited" and skip["limit_reason"] == "RATE_LIMIT_EXCEEDED"
    assert [a["outcome"] for a in trace["attempts"]] == ["ok"]
    assert two.emulators["openai"].last_request.header("authorization") != bound_key
    missing = httpx.get(two.url + "/health")
    assert missing.status_code == 200
