"""Account selection (routing.md §7): preferred, sticky, reuse lock, P2C; waits and resets.

Replaces the round-robin placeholder behind the pipeline's selection step. Per request the
work is a pass over that route's candidates (never over all accounts).
"""

from __future__ import annotations

import asyncio
import heapq
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gephyr_core.accounts.view import routable
from gephyr_core.config import Settings
from gephyr_core.config.validate import normalise_mode
from gephyr_core.relay.bindings import Bindings
from gephyr_core.relay.state import MemoryState
from gephyr_core.relay.trace import Trace

REUSE_LOCK_SECONDS = 60.0


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


def percentage(account: dict[str, Any], model: str) -> int:
    """Remaining share for the model from the quota snapshot; unknown counts as 100."""
    quota = account.get("quota")
    for entry in (quota or {}).get("models", []) if isinstance(quota, dict) else []:
        if entry.get("name") == model and isinstance(entry.get("percentage"), int):
            return int(entry["percentage"])
    return 100


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

    def _protected(self, account: dict[str, Any], model: str, settings: Settings) -> bool:
        if not settings.get("quota_protection.enabled"):
            return False
        return model in (account.get("protected_models") or [])

    def eligible(
        self, candidates: Sequence[dict[str, Any]], plan: Plan, settings: Settings, record: bool = False
    ) -> list[dict[str, Any]]:
        """Candidates not yet tried, not limited, not quota-protected (trace skips when asked)."""
        if not plan.tried and not self.state.has_records() and not settings.get("quota_protection.enabled"):
            return list(candidates)  # nothing can exclude anyone: skip the per-account checks
        protection = bool(settings.get("quota_protection.enabled"))
        out = []
        for acc in candidates:
            aid = acc["id"]
            why: dict[str, Any] | None = None
            if aid in plan.tried:
                why = {"reason": "already_attempted"}
            elif (rec := self.state.limited(aid, plan.model)) is not None:
                why = {"reason": "limited", "limit_reason": rec.reason, "reset_time": int(rec.reset_time)}
            elif protection and plan.model in (acc.get("protected_models") or ()):
                why = {"reason": "quota_protected"}
            if why is None:
                out.append(acc)
            elif record:
                plan.trace.skip(aid, **why)
        return out

    async def select(
        self, candidates: Sequence[dict[str, Any]], plan: Plan
    ) -> tuple[dict[str, Any], str] | None:
        """(account, step) for the next attempt; None when every candidate was tried."""
        settings = self._settings()
        for _ in range(2):
            chosen = await self._select_once(candidates, plan, settings)
            if chosen is not None:
                self._after(plan, chosen[0], settings)
                return chosen
            if all(a["id"] in plan.tried for a in candidates):
                return None
            await self._wait_or_refuse(candidates, plan, settings)
        left = [a for a in candidates if a["id"] not in plan.tried]
        for acc in left:
            self.state.clear(acc["id"], plan.model)
        self._after(plan, left[0], settings)
        return left[0], "optimistic_reset"

    async def _wait_or_refuse(
        self, candidates: Sequence[dict[str, Any]], plan: Plan, settings: Settings
    ) -> None:
        waits = [
            rec.remaining(self.state.clock())
            for a in candidates
            if a["id"] not in plan.tried and (rec := self.state.limited(a["id"], plan.model)) is not None
        ]
        if not waits:
            raise NoAccount(503, "no account available: every candidate is quota-protected")
        w = min(waits)
        if w > 2:
            raise NoAccount(429, f"all accounts for this model are rate-limited; retry in {w} s", float(w))
        await asyncio.sleep(w)

    async def _select_once(
        self, candidates: Sequence[dict[str, Any]], plan: Plan, settings: Settings
    ) -> tuple[dict[str, Any], str] | None:
        mode = normalise_mode(str(settings.get("scheduling.mode"))) or "Balance"
        pool = self.eligible(candidates, plan, settings, record=plan.attempt == 0)
        preferred = str(settings.get("routing.preferred_account_id") or "")
        if plan.attempt == 0 and preferred:
            for acc in pool:
                if acc["id"] == preferred:
                    return acc, "preferred"
        if mode != "PerformanceFirst" and plan.session:
            sticky = await self._sticky(candidates, pool, plan, settings, mode)
            if sticky is not None:
                return sticky, "sticky"
            pool = self.eligible(candidates, plan, settings)
        if mode != "PerformanceFirst" and plan.attempt == 0 and plan.kind != "image_gen":
            locked = self._reuse_lock(pool, plan)
            if locked is not None:
                return locked, "reuse_lock"
        if not pool:
            return None
        return self._p2c(pool, plan.model), "p2c"

    async def _sticky(
        self,
        candidates: Sequence[dict[str, Any]],
        pool: list[dict[str, Any]],
        plan: Plan,
        settings: Settings,
        mode: str,
    ) -> dict[str, Any] | None:
        assert plan.session is not None
        binding = self.bindings.get(plan.session, plan.model)
        if binding is None:
            return None
        bound = next((a for a in candidates if a["id"] == binding.account_id), None)
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
                await asyncio.sleep(wait)
                self.bindings.event(
                    "reused_after_wait", plan.session, plan.model, bound["id"], bound["id"], wait, max_wait
                )
                return bound
            self.bindings.event(
                "kept_binding_short_wait", plan.session, plan.model, bound["id"], None, wait, max_wait
            )
            return None
        if self._protected(bound, plan.model, settings):
            unbind("unbound_quota_protected")
            return None
        if bound["id"] in plan.tried or bound not in pool:
            return None
        self.bindings.event("reused_bound_account", plan.session, plan.model, bound["id"], bound["id"])
        return bound

    def _reuse_lock(self, pool: list[dict[str, Any]], plan: Plan) -> dict[str, Any] | None:
        """The account last selected for this provider, if under 60 s ago and eligible."""
        last = self.state.last_used(plan.provider)
        if last is None or self.state.clock() - last[1] >= REUSE_LOCK_SECONDS:
            return None
        return next((a for a in pool if a["id"] == last[0]), None)

    def _p2c(self, pool: list[dict[str, Any]], model: str) -> dict[str, Any]:
        if len(pool) == 1:
            return pool[0]
        health = self.state.health
        # the five best by (share, health, priority): O(n log 5), not a full sort
        top = heapq.nsmallest(5, pool, key=lambda a: (-percentage(a, model), -health(a["id"]), a["priority"]))
        first, second = self.rng.sample(top, 2)
        return second if percentage(second, model) > percentage(first, model) else first

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
        if plan.kind != "image_gen":
            self.state.mark_used(plan.provider, account["id"])
