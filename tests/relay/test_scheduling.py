"""Scheduling through the running relay: stickiness, scoped rate limits, waits, persistence."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.emulators import openai_api
from tests.emulators.script import Error
from tests.relay.harness import KEY_B, RelayServer, ask


def served_by(relay: RelayServer) -> str:
    auth = relay.emulators["openai"].last_request.header("authorization") or ""
    return "b" if auth.endswith(KEY_B) else "a"


def records(relay: RelayServer) -> list[dict[str, Any]]:
    state = relay.relay.state
    return [
        {
            "account": r.account_id,
            "model": r.model,
            "reason": r.reason,
            "remaining": r.remaining(state.clock()),
        }
        for r in state.records()
    ]


def label_of(relay: RelayServer, account_id: str) -> str:
    with relay.ctx.store.reading() as db:  # the server's writer threads share the connection
        return next(a["label"] for a in db.query("SELECT id, label FROM accounts") if a["id"] == account_id)


def test_a_conversation_stays_on_its_account(two: RelayServer) -> None:
    first = ask(two)
    assert first.status_code == 200
    bound = served_by(two)
    for _ in range(5):
        assert ask(two).status_code == 200
        assert served_by(two) == bound
    events = [e["action"] for e in two.relay.bindings.events]
    assert events[0] == "bound_new_session" and "reused_bound_account" in events


def test_429_locks_only_that_model_and_the_turn_is_served_elsewhere(two: RelayServer) -> None:
    ask(two)
    bound = served_by(two)
    two.emulators["openai"].push(Error(429, "Rate limit reached for requests", retry_after=30))
    r = ask(two)
    assert r.status_code == 200 and served_by(two) != bound  # served elsewhere (Balance: short wait)
    (rec,) = records(two)
    assert label_of(two, rec["account"]) == bound and rec["model"] == "gpt-4o"
    assert rec["reason"] == "RATE_LIMIT_EXCEEDED" and 28 <= rec["remaining"] <= 30
    # the same account still serves another model
    assert ask(two, model="gpt-4o-mini", session="other").status_code == 200
    # the binding was kept: once the limit is gone the conversation returns to the warm account
    two.relay.state.clear()
    assert ask(two).status_code == 200 and served_by(two) == bound
    trace = r.headers.get("x-request-id")
    assert trace


def test_long_wait_rebinds(two: RelayServer) -> None:
    two.configure({"scheduling": {"max_wait_seconds": 5}})
    ask(two)
    bound = served_by(two)
    two.emulators["openai"].push(Error(429, "quota exceeded", retry_after=600))
    assert ask(two).status_code == 200
    assert ask(two).status_code == 200 and served_by(two) != bound
    assert any(e["action"] == "unbound_long_wait" for e in two.relay.bindings.events)


@pytest.mark.parametrize(
    ("error", "reason", "scope_model", "low", "high"),
    [
        (Error(500, "boom"), "SERVER_ERROR", "*", 7, 8),
        (Error(503, "The model is overloaded"), "MODEL_CAPACITY_EXHAUSTED", "gpt-4o", 4, 5),
        (
            Error(429, "You exceeded your current quota", code="insufficient_quota"),
            "QUOTA_EXHAUSTED",
            "gpt-4o",
            59,
            60,
        ),
        (Error(429, "Please try again in 1m30s."), "RATE_LIMIT_EXCEEDED", "gpt-4o", 89, 90),
    ],
)
def test_reason_scope_and_delay(
    two: RelayServer, error: Error, reason: str, scope_model: str, low: int, high: int
) -> None:
    two.emulators["openai"].push(error)
    assert ask(two, session=None).status_code == 200
    (rec,) = records(two)
    assert (rec["reason"], rec["model"]) == (reason, scope_model)
    assert low <= rec["remaining"] <= high


def test_gemini_retry_info_and_all_limited_429(relay_server: RelayServer) -> None:
    relay_server.add_account("gemini")
    relay_server.emulators["gemini"].push(Error(429, "Resource exhausted", retry_after=37))
    body = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"authorization": f"Bearer {relay_server.api_key}"}
    r = httpx.post(relay_server.url + "/v1/chat/completions", json=body, headers=headers, timeout=30)
    assert r.status_code == 429
    (rec,) = records(relay_server)
    assert rec["model"] == "gemini-2.5-flash" and 35 <= rec["remaining"] <= 37
    again = httpx.post(relay_server.url + "/v1/chat/completions", json=body, headers=headers, timeout=30)
    assert again.status_code == 429 and 1 <= int(again.headers["retry-after"]) <= 37
    assert (
        relay_server.emulators["gemini"].pending == 0 and len(relay_server.emulators["gemini"].requests) == 1
    )


def test_preferred_account_first_then_rotation(two: RelayServer) -> None:
    b = next(a["id"] for a in two.ctx.store.db.query("SELECT id, label FROM accounts") if a["label"] == "b")
    two.configure({"routing": {"preferred_account_id": b}})
    for i in range(3):
        assert ask(two, session=f"s{i}").status_code == 200 and served_by(two) == "b"
    two.emulators["openai"].push(Error(500, "b is down"))
    assert ask(two, session="s9").status_code == 200 and served_by(two) == "a"


def test_performance_first_never_binds(two: RelayServer) -> None:
    two.configure({"scheduling": {"mode": "PerformanceFirst"}})
    for _ in range(3):
        assert ask(two).status_code == 200
    assert len(two.relay.bindings) == 0


def test_bindings_flush_and_restore(two: RelayServer) -> None:
    import time

    from gephyr_core.relay.scheduling_runtime import SchedulingRuntime

    ask(two)
    runtime: Any = two.ctx.runtime
    deadline = time.monotonic() + 5  # the server's watch loop flushes about every second
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not rows:
        with two.ctx.store.reading() as db:
            rows = [dict(r) for r in db.query("SELECT * FROM session_bindings")]
        time.sleep(0.1)
    assert len(rows) == 1 and rows[0]["session_id"] == "conv-1" and rows[0]["model"] == "gpt-4o"
    fresh = SchedulingRuntime(two.ctx.store, lambda: runtime.settings)
    assert fresh.restore(runtime.accounts, lambda a: True) == 1
    assert fresh.bindings.get("conv-1", "gpt-4o") is not None
    gone = SchedulingRuntime(two.ctx.store, lambda: runtime.settings)
    assert gone.restore(runtime.accounts, lambda a: False) == 0  # non-routable accounts lose bindings


def test_api_key_never_reaches_upstream(two: RelayServer) -> None:
    ask(two)
    emu = two.emulators["openai"]
    assert not emu.saw(two.api_key)
    assert (emu.last_request.header("authorization") or "") in (
        f"Bearer {openai_api.API_KEY}",
        f"Bearer {KEY_B}",
    )
