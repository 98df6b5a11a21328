"""Account selection (routing.md §7): preferred, sticky, reuse lock, P2C; waits and resets.

Replaces the round-robin placeholder behind the pipeline's selection step. Per request the
work is O(log n) in the route's candidates: each route has a `Ranking` kept in P2C order by
the state's events, and every step is a dictionary lookup or a walk of the ranking's head.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gephyr_core.accounts.view import routable
from gephyr_core.config import Settings
from gephyr_core.config.validate import normalise_mode
from gephyr_core.relay.bindings import Bindings
from gephyr_core.relay.ranking import Ranking
from gephyr_core.relay.state import MemoryState
from gephyr_core.relay.trace import Trace

REUSE_LOCK_SECONDS = 60.0
SELECTION_DEADLINE_SECONDS = 5.0  # routing.md §7.1; a deliberate sticky wait does not count
TRACE_SKIP_CAP = 16  # skipped accounts named in a trace; the rest are only counted
RANKING_CACHE_SIZE = 4096


class NoAccount(Exception):
    """Selection cannot yield an account: 429 with a wait, or 503."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass
class Plan:
    """Per-request selection state."""

    session: str | None
    model: str  # normalised
    provider: str
    kind: str  # agent | image_gen | web_search
    trace: Trace
    tried: set[str] = field(default_factory=set)
    attempt: int = 0
    refreshed: dict[str, bool] = field(default_factory=dict)  # OAuth refresh after a 401: ok?


class Scheduler:
    """Chooses the account of each attempt and keeps bindings and last use up to date."""

    def __init__(
        self,
        state: MemoryState,
        bindings: Bindings,
        settings: Callable[[], Settings],
        rng: random.Random | None = None,
    ) -> None:
        self.state = state
        self.bindings = bindings
        self._settings = settings
        self.rng = rng or random.Random()
        self.deadline_seconds = SELECTION_DEADLINE_SECONDS
        self.on_switch: Callable[[], None] | None = None  # the compliance guard's switch counter
        self._rankings: dict[tuple[int, str, bool], tuple[Sequence[dict[str, Any]], Ranking]] = {}

    def forget(self) -> None:
        """Drop every ranking (the routes they belong to were rebuilt)."""
        self._rankings.clear()

    def ranking(self, candidates: Sequence[dict[str, Any]], model: str, settings: Settings) -> Ranking:
        """The live ranking of this candidate list for the model (built once, O(n log n))."""
        protection = bool(settings.get("quota_protection.enabled"))
        key = (id(candidates), model, protection)
        hit = self._rankings.get(key)
        if hit is not None and hit[0] is candidates:
            return hit[1]
        if len(self._rankings) >= RANKING_CACHE_SIZE:
            self._rankings.clear()
        ranking = Ranking(candidates, model, self.state, protection)
        self._rankings[key] = (candidates, ranking)  # holding the list keeps its id unique
        return ranking

    async def select(
        self, candidates: Sequence[dict[str, Any]], plan: Plan
    ) -> tuple[dict[str, Any], str] | None:
        """(account, step) for the next attempt; None when every candidate was tried.

        Raises NoAccount (503 `no_account_available`) when selection, a deliberate sticky
        wait excepted, takes longer than `deadline_seconds`.
        """
        settings = self._settings()
        ranking = self.ranking(candidates, plan.model, settings)
        try:
            async with asyncio.timeout(self.deadline_seconds) as window:
                chosen = await self._select(ranking, plan, settings, window)
        except TimeoutError:
            raise NoAccount(
                503, f"no account could be selected within {self.deadline_seconds:g} s"
            ) from None
        if chosen is not None:
            self._after(plan, chosen[0], settings)
        return chosen

    async def _select(
        self, ranking: Ranking, plan: Plan, settings: Settings, window: asyncio.Timeout
    ) -> tuple[dict[str, Any], str] | None:
        for _ in range(2):
            ranking.wake(self.state.clock())
            if plan.attempt == 0:
                self._trace_skips(ranking, plan)
            chosen = await self._select_once(ranking, plan, settings, window)
            if chosen is not None:
                return chosen
            if len(plan.tried) >= len(ranking):
                return None
            await self._wait_or_refuse(ranking, plan)
        return self._optimistic_reset(ranking, plan)

    def _optimistic_reset(self, ranking: Ranking, plan: Plan) -> tuple[dict[str, Any], str] | None:
        """Clear this model's records of the parked, untried candidates and take the first.

        Only reached when the whole route stayed limited through a short wait, so the pass
        over the parked accounts is off the normal path.
        """
        parked = [aid for aid in ranking.parked if aid not in plan.tried]
        for aid in parked:
            self.state.clear(aid, plan.model)
        if not parked:
            return None
        first = min(parked, key=ranking.position.__getitem__)
        return ranking.by_id[first], "optimistic_reset"

    def _trace_skips(self, ranking: Ranking, plan: Plan) -> None:
        """Name up to TRACE_SKIP_CAP skipped accounts (limited, then protected); count the rest."""
        trace = plan.trace
        if trace.skipped:
            return
        for aid in itertools.islice(ranking.parked, TRACE_SKIP_CAP):
            rec = self.state.limited(aid, plan.model)
            if rec is not None:
                trace.skip(aid, "limited", limit_reason=rec.reason, reset_time=int(rec.reset_time))
        room = TRACE_SKIP_CAP - len(trace.skipped)
        for aid in itertools.islice(ranking.protected, max(0, room)):
            trace.skip(aid, "quota_protected")
        trace.skipped_total = len(ranking.parked) + len(ranking.protected)

    async def _wait_or_refuse(self, ranking: Ranking, plan: Plan) -> None:
        soonest = ranking.soonest(plan.tried)
        if soonest is None:
            raise NoAccount(503, "no account available: every candidate is quota-protected")
        w = max(0, math.ceil(soonest - self.state.clock()))
        if w > 2:
            raise NoAccount(429, f"all accounts for this model are rate-limited; retry in {w} s", float(w))
        await asyncio.sleep(w)

    async def _select_once(
        self, ranking: Ranking, plan: Plan, settings: Settings, window: asyncio.Timeout
    ) -> tuple[dict[str, Any], str] | None:
        mode = normalise_mode(str(settings.get("scheduling.mode"))) or "Balance"
        preferred = str(settings.get("routing.preferred_account_id") or "")
        if plan.attempt == 0 and preferred and ranking.available(preferred) and preferred not in plan.tried:
            return ranking.by_id[preferred], "preferred"
        if mode != "PerformanceFirst" and plan.session:
            sticky = await self._sticky(ranking, plan, settings, mode, window)
            if sticky is not None:
                return sticky, "sticky"
        if mode != "PerformanceFirst" and plan.attempt == 0 and plan.kind != "image_gen":
            locked = self._reuse_lock(ranking, plan)
            if locked is not None:
                return locked, "reuse_lock"
        head = ranking.head(plan.tried)
        if not head:
            return None
        return self._p2c(head, ranking), "p2c"

    async def _sticky(
        self, ranking: Ranking, plan: Plan, settings: Settings, mode: str, window: asyncio.Timeout
    ) -> dict[str, Any] | None:
        assert plan.session is not None
        binding = self.bindings.get(plan.session, plan.model)
        if binding is None:
            return None
        bound = ranking.by_id.get(binding.account_id)
        max_wait = float(settings.get("scheduling.max_wait_seconds"))

        def unbind(reason: str, wait: float = 0) -> None:
            self.bindings.unbind(plan.session or "", plan.model)
            self.bindings.event(
                reason, plan.session or "", plan.model, binding.account_id, None, wait, max_wait
            )

        if bound is None or not routable(bound):
            unbind("unbound_missing_account")
            return None
        record = self.state.limited(bound["id"], plan.model)
        if record is not None:
            wait = record.remaining(self.state.clock())
            if wait > max_wait:
                unbind("unbound_long_wait", wait)
                return None
            if mode == "CacheFirst" and bound["id"] not in plan.tried:
                _extend(window, wait)  # the deliberate sticky wait is not selection time
                await asyncio.sleep(wait)
                self.bindings.event(
                    "reused_after_wait", plan.session, plan.model, bound["id"], bound["id"], wait, max_wait
                )
                return bound
            self.bindings.event(
                "kept_binding_short_wait", plan.session, plan.model, bound["id"], None, wait, max_wait
            )
            return None
        if bound["id"] in ranking.protected:
            unbind("unbound_quota_protected")
            return None
        if bound["id"] in plan.tried or not ranking.available(bound["id"]):
            return None
        self.bindings.event("reused_bound_account", plan.session, plan.model, bound["id"], bound["id"])
        return bound

    def _reuse_lock(self, ranking: Ranking, plan: Plan) -> dict[str, Any] | None:
        """The account last selected for this provider, if under 60 s ago and eligible."""
        last = self.state.last_used(plan.provider)
        if last is None or self.state.clock() - last[1] >= REUSE_LOCK_SECONDS:
            return None
        aid = last[0]
        return ranking.by_id[aid] if ranking.available(aid) and aid not in plan.tried else None

    def _p2c(self, head: list[dict[str, Any]], ranking: Ranking) -> dict[str, Any]:
        if len(head) == 1:
            return head[0]
        first, second = self.rng.sample(head, 2)
        return second if ranking.share[second["id"]] > ranking.share[first["id"]] else first

    def _after(self, plan: Plan, account: dict[str, Any], settings: Settings) -> None:
        mode = normalise_mode(str(settings.get("scheduling.mode"))) or "Balance"
        if plan.attempt == 0 and plan.session and mode != "PerformanceFirst":
            existing = self.bindings.get(plan.session, plan.model)
            if existing is None:
                self.bindings.bind(plan.session, plan.model, account["id"])
                self.bindings.event(
                    "bound_new_session", plan.session, plan.model, account["id"], account["id"]
                )
            elif existing.account_id == account["id"]:
                self.bindings.touch(plan.session, plan.model)
            else:
                self.bindings.event(
                    "kept_existing_binding_fallback_selected",
                    plan.session,
                    plan.model,
                    existing.account_id,
                    account["id"],
                )
        if plan.kind != "image_gen" and self.state.mark_used(plan.provider, account["id"]):
            if self.on_switch is not None:
                self.on_switch()


def _extend(window: asyncio.Timeout, seconds: float) -> None:
    deadline = window.when()
    if deadline is not None:
        window.reschedule(deadline + seconds)
