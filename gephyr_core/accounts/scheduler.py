"""The background scheduler of a running server (config.md §7).

One tick every `scheduler.interval_seconds`, the first one interval after start; a tick
never overlaps a running one (a second caller is skipped). A tick runs the health check
(accounts.md §8) when `startup_health.scheduled` and, when `scheduler.auto_refresh`, waits a
random jitter and probes every routable account in priority order with a random gap
between accounts (a probe first refreshes an OAuth token inside its window). Settings are
read at every tick, so changes apply to the next one. The work runs in a worker thread;
`stop` ends it between accounts (server shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from gephyr_core.accounts import health
from gephyr_core.accounts.probe import Verifier
from gephyr_core.accounts.view import routable
from gephyr_core.config import Settings
from gephyr_core.errors import GephyrError
from gephyr_core.oauth.tokens import TokenRefresher
from gephyr_core.store import accounts as table

log = logging.getLogger("gephyr.scheduler")

WINDOW = 60.0


def _pair(settings: Settings, low_key: str, high_key: str) -> tuple[float, float]:
    low = max(0.0, float(settings.get(low_key) or 0))
    return low, max(low, float(settings.get(high_key) or 0))


class RefreshScheduler:
    """Runs scheduled health checks and quota refreshes; counts them in 60 s windows."""

    def __init__(
        self,
        verifier: Callable[[], Verifier],
        settings: Callable[[], Settings],
        accounts: Callable[[], list[dict[str, Any]]],
        refresher: TokenRefresher,
        *,
        interval: float | None = None,
        clock: Callable[[], float] = time.time,
        wait: Callable[[float], Any] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._verifier = verifier
        self._settings = settings
        self._accounts = accounts
        self.refresher = refresher
        self.interval_override = interval  # tests inject a short one; users get ≥ 60 s by validation
        self._clock = clock
        self.stop = threading.Event()
        self._wait = wait or self.stop.wait  # pauses end early on shutdown
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._runs: deque[tuple[float, int, bool]] = deque()  # (time, accounts attempted, any failed)
        self._busy = False
        self.ticks = 0
        self.skipped = 0

    def interval(self) -> float:
        """Seconds between ticks (read at every tick)."""
        if self.interval_override is not None:
            return self.interval_override
        return float(self._settings().get("scheduler.interval_seconds") or 600)

    async def run(self) -> None:
        """The loop: sleep one interval, tick, until cancelled or stopped."""
        while not self.stop.is_set():
            await asyncio.sleep(self.interval())
            if self.stop.is_set():
                return
            try:
                await self.tick()
            except Exception:  # a failed tick must not end the loop; the next one retries
                log.exception("scheduler tick failed")

    async def tick(self) -> dict[str, Any] | None:
        """One tick in a worker thread → `{health, refresh}` (None when one is already running)."""
        if self._busy:
            self.skipped += 1
            return None
        self._busy = True
        try:
            return await asyncio.to_thread(self._work)
        finally:
            self._busy = False

    def _work(self) -> dict[str, Any]:
        settings = self._settings()
        verifier = self._verifier()
        result: dict[str, Any] = {"health": None, "refresh": None}
        attempted, failed = 0, False
        if settings.get("startup_health.scheduled"):
            summary = health.run(verifier, stop=self.stop, sleep=self._wait, rng=self._rng)
            result["health"] = summary
            attempted += summary["total"] - summary["skipped"]
            failed = failed or bool(summary["disabled"] + summary["forbidden"] + summary["network_errors"])
        if settings.get("scheduler.auto_refresh") and not self.stop.is_set():
            refresh = self._auto_refresh(verifier, settings)
            result["refresh"] = refresh
            attempted += refresh["attempted"]
            failed = failed or refresh["failed"] > 0
        self.ticks += 1
        if result["health"] is not None or result["refresh"] is not None:
            with self._lock:
                self._runs.append((self._clock(), attempted, failed))
        return result

    def _auto_refresh(self, verifier: Verifier, settings: Settings) -> dict[str, Any]:
        """Probe every routable account in priority order, spread out by jitter and gaps."""
        self._wait(
            self._rng.uniform(
                *_pair(
                    settings, "scheduler.refresh_jitter_min_seconds", "scheduler.refresh_jitter_max_seconds"
                )
            )
        )
        gap = _pair(settings, "scheduler.account_gap_min_seconds", "scheduler.account_gap_max_seconds")
        timeout = float(settings.get("startup_health.refresh_timeout_seconds") or 10)
        rows = [r for r in table.list_accounts(verifier.store) if routable(r)]
        details: list[str] = []
        failed = 0
        for n, row in enumerate(rows):
            if n:
                self._wait(self._rng.uniform(*gap))
            if self.stop.is_set():
                break
            try:
                verifier.probe(row["id"], timeout=timeout)
            except GephyrError as exc:
                failed += 1
                details.append(f"{row['label']}: {exc.message}")
            else:
                details.append(f"{row['label']}: ok")
        return {"total": len(rows), "attempted": len(details), "failed": failed, "details": details}

    def snapshot(self) -> dict[str, Any]:
        """Refresh counters of the last 60 s, for the compliance part of the metrics snapshot."""
        cutoff = self._clock() - WINDOW
        with self._lock:
            while self._runs and self._runs[0][0] < cutoff:
                self._runs.popleft()
            runs = list(self._runs)
        by_account = {
            a["id"]: n for a in self._accounts() if (n := self.refresher.attempts_last_minute(a["id"]))
        }
        return {
            "refresh_attempts_last_minute": self.refresher.attempts_last_minute(),
            "refresh_attempts_by_account_last_minute": by_account,
            "scheduler_refresh_runs_last_minute": len(runs),
            "scheduler_refresh_failures_last_minute": sum(1 for r in runs if r[2]),
            "scheduler_refresh_accounts_attempted_last_minute": sum(r[1] for r in runs),
        }

    async def close(self, task: asyncio.Task[Any]) -> None:
        """Stop between accounts, let the account in flight finish (bounded), reap the task."""
        self.stop.set()
        grace = float(self._settings().get("startup_health.refresh_timeout_seconds") or 10) + 1
        await asyncio.wait({task}, timeout=grace if self._busy else 0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
