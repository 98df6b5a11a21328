"""The scheduling state a running server owns: records, health, bindings, their upkeep.

`tick()` runs on the server's watch loop: rate-limit records are swept every 15 s,
bindings unused for their TTL hourly, and binding changes are written to SQLite in one
batch off the event loop (never on a request's path).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from gephyr_core.config import Settings
from gephyr_core.relay.bindings import Bindings
from gephyr_core.relay.compliance import ComplianceGuard
from gephyr_core.relay.state import MemoryState
from gephyr_core.store import bindings as table
from gephyr_core.store.db import Store

TRACES_KEPT = 2000


class SchedulingRuntime:
    """State shared by the relay pipeline and the admin operations of one server."""

    def __init__(self, store: Store, settings: Callable[[], Settings]) -> None:
        self.store = store
        self._settings = settings
        self.state = MemoryState()
        self.bindings = Bindings(int(settings().get("routing.max_session_bindings")))
        self.guard = ComplianceGuard(settings)
        self.traces: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._swept = self._expired = time.monotonic()

    def restore(self, accounts: list[dict[str, Any]], routable: Callable[[dict[str, Any]], bool]) -> int:
        """Load persisted bindings whose account is present and routable (startup)."""
        if not self._settings().get("routing.persist_session_bindings"):
            return 0
        ok = {a["id"] for a in accounts if routable(a)}
        n = self.bindings.restore(table.load(self.store), lambda account_id: account_id in ok)
        self.bindings.take_dirty()
        return n

    def accounts_changed(
        self, accounts: list[dict[str, Any]], routable: Callable[[dict[str, Any]], bool]
    ) -> None:
        """Drop bindings and records of accounts that are gone or no longer routable."""
        ok = {a["id"] for a in accounts if routable(a)}
        for account_id in {b.account_id for b in self.bindings.all()} - ok:
            self.bindings.drop_account(account_id)
            self.state.clear(account_id)

    def record_trace(self, trace: dict[str, Any]) -> None:
        """Keep the decision trace of the last requests (until request logs store them)."""
        request_id = str(trace.get("request_id") or "")
        if request_id:
            self.traces[request_id] = trace
            while len(self.traces) > TRACES_KEPT:
                self.traces.popitem(last=False)

    async def tick(self) -> None:
        """Sweeps and the persistence flush (called about every second)."""
        settings = self._settings()
        now = time.monotonic()
        if now - self._swept >= 15:
            self._swept = now
            self.state.sweep()
        if now - self._expired >= 3600:
            self._expired = now
            self.bindings.sweep(float(settings.get("routing.session_binding_ttl_seconds")))
        await self.flush()

    async def flush(self) -> None:
        """Write pending binding changes (or, with persistence off, just forget them)."""
        dirty = self.bindings.take_dirty()
        if not dirty or not self._settings().get("routing.persist_session_bindings"):
            return
        upserts = [
            {
                "session_id": s,
                "model": m,
                "account_id": b.account_id,
                "created_at": int(b.created_at),
                "last_used_at": int(b.last_used_at),
            }
            for (s, m), b in dirty.items()
            if b is not None
        ]
        deletes = [key for key, b in dirty.items() if b is None]
        await asyncio.to_thread(table.write, self.store, upserts, deletes)
