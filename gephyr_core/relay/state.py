"""Shared runtime state behind one small interface (rate-limit records, health, last use).

The embedded default keeps it in memory; the shape is narrow on purpose so several relay
instances can later share it through Redis without touching the pipeline.
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gephyr_core.relay.ranking import Ranking


@dataclass(frozen=True)
class LimitRecord:
    """An account (model `*`) or account + normalised model locked until `reset_time`."""

    account_id: str
    model: str
    reason: str
    reset_time: float

    def remaining(self, now: float) -> int:
        return max(0, math.ceil(self.reset_time - now))


class MemoryState:
    """In-memory runtime state of one relay process."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._records: dict[tuple[str, str], LimitRecord] = {}
        self._failures: dict[str, tuple[int, float]] = {}
        self._health: dict[str, float] = {}
        self._last_used: dict[str, tuple[str, float]] = {}
        self.locks_total: dict[tuple[str, str], int] = {}  # (account, reason) → records set, for metrics
        # live rankings follow every change; a dropped route's ranking just falls out
        self._rankings: weakref.WeakSet[Ranking] = weakref.WeakSet()

    def watch(self, ranking: Ranking) -> None:
        """Keep `ranking` current with every record and health change from now on."""
        self._rankings.add(ranking)

    def quota_changed(self, account_id: str) -> None:
        """An account's quota snapshot or protected models changed in place (the quota tap)."""
        for ranking in list(self._rankings):
            ranking.quota_changed(account_id)

    def reset(self) -> None:
        """Forget everything (tests, and a future 'clear runtime state' operation)."""
        self._records.clear()
        self._failures.clear()
        self._health.clear()
        self._last_used.clear()
        for ranking in list(self._rankings):
            ranking.cleared(None)
            for aid in list(ranking.keys):
                ranking.health_changed(aid)

    # -- rate-limit records ----------------------------------------------------------------
    def limited(self, account_id: str, model: str) -> LimitRecord | None:
        """The active record that blocks the account for the model (the later reset wins)."""
        now = self.clock()
        found = [
            r
            for key in ((account_id, "*"), (account_id, model))
            if (r := self._records.get(key)) is not None and r.reset_time > now
        ]
        return max(found, key=lambda r: r.reset_time) if found else None

    def lock(self, record: LimitRecord) -> None:
        self._records[(record.account_id, record.model)] = record
        key = (record.account_id, record.reason)
        self.locks_total[key] = self.locks_total.get(key, 0) + 1
        for ranking in list(self._rankings):
            ranking.locked(record)

    def records(self) -> list[LimitRecord]:
        now = self.clock()
        return sorted((r for r in self._records.values() if r.reset_time > now), key=lambda r: r.reset_time)

    def clear(self, account_id: str | None = None, model: str | None = None) -> int:
        """Drop records (all, one account's, or one account+model's); returns how many."""
        if account_id is not None and model is not None:  # the relay's case: two lookups, no scan
            keys = [k for k in ((account_id, model), (account_id, "*")) if k in self._records]
        else:
            keys = [
                k
                for k in self._records
                if (account_id is None or k[0] == account_id) and (model is None or k[1] in (model, "*"))
            ]
        for key in keys:
            del self._records[key]
        if keys:
            for ranking in list(self._rankings):
                ranking.cleared(account_id)
        return len(keys)

    def sweep(self) -> int:
        """Forget expired records and failure streaks quiet for an hour."""
        now = self.clock()
        expired = [k for k, r in self._records.items() if r.reset_time <= now]
        for key in expired:
            del self._records[key]
        for account_id, (_, at) in list(self._failures.items()):
            if now - at > 3600:
                del self._failures[account_id]
        return len(expired)

    # -- outcomes --------------------------------------------------------------------------
    def failures(self, account_id: str) -> int:
        count, at = self._failures.get(account_id, (0, 0.0))
        return count if self.clock() - at <= 3600 else 0

    def all_failures(self) -> dict[str, int]:
        return {a: n for a in self._failures if (n := self.failures(a))}

    def failed(self, account_id: str) -> int:
        """Count a failed attempt; returns the consecutive count including this one."""
        count = self.failures(account_id) + 1
        self._failures[account_id] = (count, self.clock())
        self._set_health(account_id, max(0.0, self.health(account_id) - 0.2))
        return count

    def succeeded(self, account_id: str) -> None:
        self._failures.pop(account_id, None)
        self._set_health(account_id, min(1.0, self.health(account_id) + 0.05))

    def _set_health(self, account_id: str, value: float) -> None:
        if value == self.health(account_id):
            return  # the common case (a healthy account succeeding): nothing moves
        self._health[account_id] = value
        for ranking in list(self._rankings):
            ranking.health_changed(account_id)

    def health(self, account_id: str) -> float:
        return self._health.get(account_id, 1.0)

    # -- reuse lock ----------------------------------------------------------------------------
    def last_used(self, provider: str) -> tuple[str, float] | None:
        return self._last_used.get(provider)

    def mark_used(self, provider: str, account_id: str) -> bool:
        """Record the selection; True when it switched account for this provider."""
        previous = self._last_used.get(provider)
        self._last_used[provider] = (account_id, self.clock())
        return previous is not None and previous[0] != account_id
