"""Sticky session bindings (routing.md §8): (session id, normalised model) → account."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass
class Binding:
    account_id: str
    created_at: float
    last_used_at: float


class Bindings:
    """In-memory bindings, most recently used last, capped; changes are queued for persistence."""

    def __init__(self, cap: int = 100000, clock: Callable[[], float] = time.time) -> None:
        self.cap = cap
        self.clock = clock
        self._map: OrderedDict[tuple[str, str], Binding] = OrderedDict()
        self.events: deque[dict[str, Any]] = deque(maxlen=256)
        self.dirty: dict[tuple[str, str], Binding | None] = {}

    def __len__(self) -> int:
        return len(self._map)

    def all(self) -> list[Binding]:
        return list(self._map.values())

    def get(self, session: str, model: str) -> Binding | None:
        return self._map.get((session, model))

    def bind(self, session: str, model: str, account_id: str) -> None:
        now = self.clock()
        key = (session, model)
        binding = self._map.get(key)
        if binding is None or binding.account_id != account_id:
            binding = Binding(account_id, now, now)
        binding.last_used_at = now
        self._map[key] = binding
        self._map.move_to_end(key)
        self.dirty[key] = binding
        while len(self._map) > self.cap:
            old, _ = self._map.popitem(last=False)
            self.dirty[old] = None

    def touch(self, session: str, model: str) -> None:
        key = (session, model)
        binding = self._map.get(key)
        if binding is not None:
            binding.last_used_at = self.clock()
            self._map.move_to_end(key)
            self.dirty[key] = binding

    def unbind(self, session: str, model: str) -> None:
        if self._map.pop((session, model), None) is not None:
            self.dirty[(session, model)] = None

    def drop_account(self, account_id: str) -> int:
        keys = [k for k, b in self._map.items() if b.account_id == account_id]
        for key in keys:
            self.unbind(*key)
        return len(keys)

    def clear(self) -> int:
        n = len(self._map)
        for key in self._map:
            self.dirty[key] = None
        self._map.clear()
        self.event("cleared_all_bindings", "*", "", None, None, reason="admin_clear")
        return n

    def sweep(self, ttl: float) -> int:
        cutoff = self.clock() - ttl
        stale = [k for k, b in self._map.items() if b.last_used_at < cutoff]
        for key in stale:
            self.unbind(*key)
        return len(stale)

    def restore(self, rows: Iterable[dict[str, Any]], keep: Callable[[str], bool]) -> int:
        """Load persisted rows whose account is still present and routable."""
        n = 0
        for row in sorted(rows, key=lambda r: r.get("last_used_at") or 0):
            if keep(row["account_id"]):
                self._map[(row["session_id"], row["model"])] = Binding(
                    row["account_id"], float(row.get("created_at") or 0), float(row.get("last_used_at") or 0)
                )
                n += 1
        return n

    def take_dirty(self) -> dict[tuple[str, str], Binding | None]:
        dirty, self.dirty = self.dirty, {}
        return dirty

    def event(
        self,
        action: str,
        session: str,
        model: str,
        bound: str | None,
        selected: str | None,
        wait: float = 0,
        max_wait: float = 0,
        reason: str = "",
    ) -> None:
        self.events.append(
            {
                "timestamp_unix": int(self.clock()),
                "action": action,
                "session_id": session,
                "model": model,
                "bound_account_id": bound,
                "selected_account_id": selected,
                "wait_seconds": wait,
                "max_wait_seconds": max_wait,
                "reason": reason or action,
            }
        )

    def snapshot(self, limit: int) -> dict[str, str]:
        items = list(self._map.items())[-limit:] if limit > 0 else []
        return {f"{s}|{m}": b.account_id for (s, m), b in reversed(items)}
