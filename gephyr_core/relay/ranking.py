"""The candidates of one route kept in P2C order, so selection costs O(log n) (routing.md §7.1).

A ranking is built once per route (routes are rebuilt when the accounts or the settings
change) and then kept current by the runtime state's events: a health change moves one
account, a rate-limit record parks it until its reset, a clear brings it back. Selection
walks the head of the order and skips only the few accounts this request already tried.
Sorted containers come from `sortedcontainers` (a well-kept pure-Python library) rather than
a hand-written balanced tree.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sortedcontainers import SortedList  # type: ignore[import-untyped]  # ships no type hints

if TYPE_CHECKING:
    from gephyr_core.relay.state import LimitRecord, MemoryState

TOP = 5  # P2C draws from the first five of the order
Key = tuple[int, float, int, int]


def percentage(account: dict[str, Any], model: str) -> int:
    """Remaining share for the model from the quota snapshot; unknown counts as 100."""
    quota = account.get("quota")
    for entry in (quota or {}).get("models", []) if isinstance(quota, dict) else []:
        if entry.get("name") == model and isinstance(entry.get("percentage"), int):
            return int(entry["percentage"])
    return 100


class Ranking:
    """One route's candidates: the available ones in order, the limited ones parked."""

    def __init__(
        self, candidates: Sequence[dict[str, Any]], model: str, state: MemoryState, protection: bool
    ) -> None:
        self.model = model
        self.state = state
        self.protection = protection
        self.by_id: dict[str, dict[str, Any]] = {}
        self.ids: list[str] = []
        self.position: dict[str, int] = {}
        self.share: dict[str, int] = {}
        self.protected: set[str] = set()
        self.keys: dict[str, Key] = {}
        self.order: SortedList = SortedList()
        self.parked: dict[str, float] = {}
        self._wakeups: list[tuple[float, str]] = []
        for index, acc in enumerate(candidates):
            aid = acc["id"]
            self.by_id[aid] = acc
            self.position[aid] = index
            self.ids.append(aid)
            self.share[aid] = percentage(acc, model)
            if self._is_protected(acc):
                self.protected.add(aid)
            elif (record := state.limited(aid, model)) is not None:
                self._park(aid, record.reset_time)
            else:
                self._insert(aid)
        state.watch(self)

    def __len__(self) -> int:
        return len(self.by_id)

    def _is_protected(self, acc: dict[str, Any]) -> bool:
        return self.protection and self.model in (acc.get("protected_models") or ())

    def _key(self, aid: str) -> Key:
        acc = self.by_id[aid]
        return (-self.share[aid], -self.state.health(aid), int(acc.get("priority") or 0), self.position[aid])

    def _insert(self, aid: str) -> None:
        key = self._key(aid)
        self.keys[aid] = key
        self.order.add(key)

    def _remove(self, aid: str) -> None:
        key = self.keys.pop(aid, None)
        if key is not None:
            self.order.remove(key)

    def _park(self, aid: str, until: float) -> None:
        self._remove(aid)
        if until > self.parked.get(aid, 0.0):
            self.parked[aid] = until
            heapq.heappush(self._wakeups, (until, aid))

    def _unpark(self, aid: str) -> None:
        if self.parked.pop(aid, None) is not None and aid not in self.protected:
            self._insert(aid)

    # -- state events (MemoryState calls these for every live ranking) ----------------------
    def health_changed(self, aid: str) -> None:
        """Move the account to its new place (O(log n)); parked ones are placed on return."""
        if aid in self.keys:
            self._remove(aid)
            self._insert(aid)

    def quota_changed(self, aid: str) -> None:
        """The account's quota snapshot or protection changed in place: re-place it (O(log n))."""
        acc = self.by_id.get(aid)
        if acc is None:
            return
        self.share[aid] = percentage(acc, self.model)
        self._remove(aid)
        if self._is_protected(acc):
            self.protected.add(aid)
            return
        self.protected.discard(aid)
        record = self.state.limited(aid, self.model)
        if record is not None:
            self._park(aid, record.reset_time)  # a protected account was never parked
        elif aid not in self.parked:
            self._insert(aid)

    def locked(self, record: LimitRecord) -> None:
        if record.account_id in self.by_id and record.model in ("*", self.model):
            if record.account_id not in self.protected:
                self._park(record.account_id, record.reset_time)

    def cleared(self, account_id: str | None) -> None:
        """Records were dropped: bring back the parked accounts that are free again."""
        ids = list(self.parked) if account_id is None else [account_id] if account_id in self.parked else []
        for aid in ids:
            record = self.state.limited(aid, self.model)
            if record is None:
                self._unpark(aid)
            else:
                self.parked[aid] = 0.0
                self._park(aid, record.reset_time)

    # -- selection ----------------------------------------------------------------------------
    def wake(self, now: float) -> None:
        """Return the accounts whose records have expired (each one once, O(log n))."""
        while self._wakeups and self._wakeups[0][0] <= now:
            until, aid = heapq.heappop(self._wakeups)
            if self.parked.get(aid) == until:
                record = self.state.limited(aid, self.model)
                if record is None:
                    self._unpark(aid)
                else:  # locked again meanwhile by a record this ranking did not see
                    self.parked[aid] = 0.0
                    self._park(aid, record.reset_time)

    def head(self, tried: set[str], limit: int = TOP) -> list[dict[str, Any]]:
        """The first `limit` available accounts not yet tried, best first."""
        out: list[dict[str, Any]] = []
        for key in self.order:
            aid = self.ids[key[3]]
            if aid not in tried:
                out.append(self.by_id[aid])
                if len(out) == limit:
                    break
        return out

    def available(self, aid: str) -> bool:
        return aid in self.keys

    def soonest(self, exclude: set[str]) -> float | None:
        """The earliest reset among parked accounts not in `exclude` (None when there is none).

        Visits the heap in order from its root, so the cost grows with the few excluded or
        stale entries ahead of the answer, not with the number of parked accounts.
        """
        heap = self._wakeups
        frontier: list[tuple[tuple[float, str], int]] = [(heap[0], 0)] if heap else []
        while frontier:
            (until, aid), i = heapq.heappop(frontier)
            if self.parked.get(aid) == until and aid not in exclude:
                return until
            for child in (2 * i + 1, 2 * i + 2):
                if child < len(heap):
                    heapq.heappush(frontier, (heap[child], child))
        return None
