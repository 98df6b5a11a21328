"""The [scheduler] loop (config.md §7): scheduled health checks and refreshes, driven tick by tick."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gephyr_core.accounts.probe import Verifier
from gephyr_core.accounts.scheduler import RefreshScheduler
from gephyr_core.admin import AdminContext, catalog, invoke, open_context
from gephyr_core.oauth.tokens import TokenRefresher
from gephyr_core.server import create_app
from gephyr_core.server.serve import prepare
from gephyr_core.store import accounts as table
from tests.emulators.script import Emulator
from tests.emulators.server import run_app
from tests.oauth_idp import IdP, User, oauth_idp, oauth_idp_session  # noqa: F401

TIMINGS = {
    "startup_health": {"enabled": False, "delay_min_seconds": 1, "delay_max_seconds": 2},
    "scheduler": {
        "refresh_jitter_min_seconds": 30,
        "refresh_jitter_max_seconds": 120,
        "account_gap_min_seconds": 5,
        "account_gap_max_seconds": 30,
    },
}


def save(ctx: AdminContext, patch: dict[str, Any]) -> None:
    invoke(ctx, catalog()["config.save"], {"config": patch})


def call(ctx: AdminContext, name: str, **kwargs: Any) -> Any:
    return invoke(ctx, catalog()[name], kwargs).data


def expire(ctx: AdminContext, account_id: str) -> None:
    with ctx.store.transaction(change=True) as db:
        table.update_account(db, account_id, {"token_expires_at": int(time.time()) + 10})


def expiry(ctx: AdminContext, account_id: str) -> int:
    row = table.get_account(ctx.store, account_id)
    assert row is not None
    return int(row["token_expires_at"])


@pytest.fixture
def linked(
    data_dir: Path,
    oauth_idp: IdP,  # noqa: F811
    gemini_emulator: Emulator,
) -> Iterator[tuple[AdminContext, list[str]]]:
    """Two Gemini accounts linked through the identity provider, served by the Gemini emulator."""
    oauth_idp.token_sinks.append(gemini_emulator.bearer_tokens.add)
    oauth_idp.users["cy@example.com"] = User("sub-cy-0003", "cy@example.com", "Cy")
    context = open_context(data_dir, {})
    save(
        context,
        {**oauth_idp.config_patch(), **TIMINGS, "providers": {"gemini": {"base_url": gemini_emulator.url}}},
    )
    ids = [
        call(context, "accounts.add", refresh_token=oauth_idp.grant(e))["id"]
        for e in ("ana@example.com", "cy@example.com")
    ]
    yield context, ids
    context.close()


class Pauses:
    """Records the pauses a tick asks for instead of sleeping."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    def __call__(self, seconds: float) -> bool:
        self.seen.append(seconds)
        return False


def scheduler(ctx: AdminContext, pauses: Callable[[float], Any], **kw: Any) -> RefreshScheduler:
    refresher = TokenRefresher(ctx.store, ctx.box, ctx.settings)
    return RefreshScheduler(
        lambda: Verifier(ctx.store, ctx.box, ctx.settings, refresher, retry_delay=0.01),
        ctx.settings,
        lambda: table.list_accounts(ctx.store),
        refresher,
        wait=pauses,
        rng=random.Random(7),
        **kw,
    )


def test_scheduled_health_check(linked: tuple[AdminContext, list[str]], oauth_idp: IdP) -> None:  # noqa: F811
    ctx, (fresh, stale) = linked
    pauses = Pauses()
    sched = scheduler(ctx, pauses)
    assert asyncio.run(sched.tick()) == {"health": None, "refresh": None}  # both steps off by default
    assert sched.snapshot()["scheduler_refresh_runs_last_minute"] == 0
    save(ctx, {"startup_health": {"scheduled": True}})  # hot-applied: read at the next tick
    expire(ctx, stale)
    result = asyncio.run(sched.tick())
    assert result is not None and result["refresh"] is None
    assert (result["health"]["refreshed"], result["health"]["skipped"]) == (1, 1)
    assert expiry(ctx, stale) > time.time() + 3000
    assert pauses.seen == []  # one candidate: no pause between accounts
    snap = sched.snapshot()
    assert snap == {
        "refresh_attempts_last_minute": 1,
        "refresh_attempts_by_account_last_minute": {stale: 1},
        "scheduler_refresh_runs_last_minute": 1,
        "scheduler_refresh_failures_last_minute": 0,
        "scheduler_refresh_accounts_attempted_last_minute": 1,
    }
    oauth_idp.revoke_all()
    expire(ctx, fresh)
    expire(ctx, stale)
    result = asyncio.run(sched.tick())
    assert result is not None and result["health"]["disabled"] == 2
    assert len(pauses.seen) == 1 and 1 <= pauses.seen[0] <= 2  # startup_health.delay_* between accounts
    snap = sched.snapshot()
    assert (snap["scheduler_refresh_runs_last_minute"], snap["scheduler_refresh_failures_last_minute"]) == (
        2,
        1,
    )
    assert snap["scheduler_refresh_accounts_attempted_last_minute"] == 3


def test_auto_refresh_probes_in_priority_order(
    linked: tuple[AdminContext, list[str]], gemini_emulator: Emulator
) -> None:
    ctx, (first, second) = linked
    pauses = Pauses()
    sched = scheduler(ctx, pauses)
    save(ctx, {"scheduler": {"auto_refresh": True}})
    expire(ctx, second)
    before = len(gemini_emulator.calls())
    result = asyncio.run(sched.tick())
    assert result is not None and result["health"] is None
    assert result["refresh"] == {
        "total": 2,
        "attempted": 2,
        "failed": 0,
        "details": ["ana@example.com: ok", "cy@example.com: ok"],
    }
    jitter, gap = pauses.seen
    assert 30 <= jitter <= 120 and 5 <= gap <= 30
    assert len(gemini_emulator.calls()) == before + 2
    assert expiry(ctx, second) > time.time() + 3000  # the probe refreshed the token first
    for account in (first, second):
        assert call(ctx, "accounts.quota", id=account, cached=True)["source"] == "probe"
    call(ctx, "accounts.update", id=first, base_url="http://127.0.0.1:9")
    result = asyncio.run(sched.tick())
    assert result is not None and result["refresh"]["failed"] == 1
    snap = sched.snapshot()
    assert (snap["scheduler_refresh_runs_last_minute"], snap["scheduler_refresh_failures_last_minute"]) == (
        2,
        1,
    )
    assert snap["scheduler_refresh_accounts_attempted_last_minute"] == 4


def test_ticks_never_overlap_and_the_window_slides(linked: tuple[AdminContext, list[str]]) -> None:
    ctx, _ = linked
    save(ctx, {"scheduler": {"auto_refresh": True}})
    release = threading.Event()
    entered = threading.Event()

    def hold(seconds: float) -> bool:
        entered.set()
        return release.wait(5)

    now = [1000.0]
    sched = scheduler(ctx, hold, clock=lambda: now[0])

    async def two() -> tuple[Any, Any]:
        first = asyncio.create_task(sched.tick())
        await asyncio.to_thread(entered.wait, 5)
        second = await sched.tick()  # the first one is still in its jitter pause
        release.set()
        return await first, second

    done, skipped = asyncio.run(two())
    assert skipped is None and sched.skipped == 1 and done["refresh"]["attempted"] == 2
    assert sched.snapshot()["scheduler_refresh_runs_last_minute"] == 1
    now[0] += 61
    assert sched.snapshot()["scheduler_refresh_runs_last_minute"] == 0


def test_the_server_runs_the_loop(tmp_path: Path, oauth_idp: IdP) -> None:  # noqa: F811
    ctx = open_context(tmp_path / "served", {})
    try:
        save(
            ctx,
            {
                **oauth_idp.config_patch(),
                **TIMINGS,
                "startup_health": {
                    "enabled": False,
                    "scheduled": True,
                    "delay_min_seconds": 0,
                    "delay_max_seconds": 0,
                },
            },
        )
        account = call(ctx, "accounts.add", refresh_token=oauth_idp.grant())["id"]
        expire(ctx, account)
        rt = prepare(ctx, {}, lambda line: None)
        assert rt.refresh_scheduler.interval() == 600
        rt.refresh_scheduler.interval_override = 0.05
        with run_app(create_app(rt), lifespan="on") as url:
            deadline = time.monotonic() + 10
            while expiry(ctx, account) < time.time() + 3000:
                assert time.monotonic() < deadline, "the scheduler never refreshed the token"
                time.sleep(0.05)
            snap = rt.refresh_scheduler.snapshot()
            assert snap["scheduler_refresh_runs_last_minute"] >= 1
            assert snap["refresh_attempts_by_account_last_minute"] == {account: 1}
            assert httpx.get(url + "/health", timeout=5).status_code == 200
        assert rt.refresh_scheduler.stop.is_set()
    finally:
        ctx.close()
