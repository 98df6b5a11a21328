"""The monitor queue: bounded, drained by one writer task in batches, off the event loop (§1).

The request path only appends to a deque (no lock held across I/O, no await); when the
queue is full the record is dropped and counted. The writer drains it every 250 ms or at
500 records, one transaction per batch, in a worker thread.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from gephyr_core.errors import GephyrError
from gephyr_core.monitor.record import Record, to_rows
from gephyr_core.store import logs as table
from gephyr_core.store.db import Store

log = logging.getLogger("gephyr.monitor")

BATCH = 500
INTERVAL = 0.25
RETENTION_EVERY = 6 * 3600
FINAL_FLUSH_SECONDS = 5.0


class Monitor:
    """Process-lifetime counters plus the queue of finished requests."""

    def __init__(
        self,
        store: Store,
        settings: Callable[[], Any],
        accounts: Callable[[], list[dict[str, Any]]],
    ) -> None:
        self.store = store
        self._settings = settings
        self._accounts = accounts
        self.queue: collections.deque[Record] = collections.deque()
        self.dropped = 0
        self.total_requests = 0
        self.success_count = 0
        self.error_count = 0
        self.written = 0
        self.slowdown = 0.0  # seconds added to each batch write (tests of a slowed writer)
        self._wake = asyncio.Event()
        self._index: tuple[int, Mapping[str, dict[str, Any]]] = (0, {})

    @property
    def enabled(self) -> bool:
        return bool(self._settings().get("monitor.enabled"))

    def body_cap(self) -> int | None:
        """`monitor.max_captured_body_bytes` when bodies are captured, else None."""
        s = self._settings()
        return int(s.get("monitor.max_captured_body_bytes")) if s.get("monitor.capture_bodies") else None

    def submit(self, rec: Record) -> None:
        """Hand a finished request to the writer; never blocks (drops when the queue is full)."""
        self.total_requests += 1
        if 200 <= rec.status < 400:
            self.success_count += 1
        else:
            self.error_count += 1
        if len(self.queue) >= int(self._settings().get("monitor.queue_size")):
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                log.warning("request log queue full: %d log writes dropped so far", self.dropped)
            return
        self.queue.append(rec)
        if len(self.queue) >= BATCH:
            self._wake.set()

    def snapshot(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "total_requests": self.total_requests,
            "success_count": self.success_count,
            "error_count": self.error_count,
            "queue_depth": len(self.queue),
            "dropped_log_writes": self.dropped,
        }

    def _accounts_by_id(self) -> Mapping[str, dict[str, Any]]:
        accounts = self._accounts()
        if self._index[0] != id(accounts):  # the runtime swaps the list on reload
            self._index = (id(accounts), {a["id"]: a for a in accounts})
        return self._index[1]

    def flush(self, limit: int | None = None) -> int:
        """Write up to `limit` queued records (all by default) in one transaction (worker thread)."""
        take = len(self.queue) if limit is None else min(limit, len(self.queue))
        batch: list[Record] = []
        with contextlib.suppress(IndexError):  # an admin read's settle may drain concurrently
            for _ in range(take):
                batch.append(self.queue.popleft())
        if not batch:
            return 0
        if self.slowdown:
            time.sleep(self.slowdown)
        accounts = self._accounts_by_id()
        logs: list[dict[str, Any]] = []
        usage: list[dict[str, Any]] = []
        for rec in batch:
            row, used = to_rows(rec, accounts)
            if row is not None:
                logs.append(row)
            if used is not None:
                usage.append(used)
        try:
            with self.store.transaction() as db:
                table.write_batch(db, logs, usage)
        except GephyrError as exc:
            log.error("request log writer: %s", exc.message)
            return 0
        self.written += len(batch)
        return len(batch)

    def retention(self, now: float | None = None) -> int:
        """Delete what is older than the configured limits (worker thread)."""
        s = self._settings()
        days = float(s.get("monitor.retention_days"))
        limits = [
            ("request_logs", "timestamp", days),
            ("ip_access_logs", "timestamp", days),
            ("token_usage_logs", "request_time", days),
            ("token_usage", "timestamp", float(s.get("monitor.token_usage_retention_days"))),
            ("audit_events", "timestamp", float(s.get("monitor.audit_retention_days"))),
        ]
        try:
            return table.apply_retention(self.store, limits, now)
        except GephyrError as exc:
            log.error("retention: %s", exc.message)
            return 0

    async def run(self) -> None:
        """The writer task: retention at start and every 6 h, batches every 250 ms or 500 records."""
        await asyncio.to_thread(self.retention)
        last_retention = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), INTERVAL)
            self._wake.clear()
            while self.queue:
                await asyncio.to_thread(self.flush, BATCH)
            if time.monotonic() - last_retention >= RETENTION_EVERY:
                last_retention = time.monotonic()
                await asyncio.to_thread(self.retention)

    async def final_flush(self) -> None:
        """The shutdown flush, bounded to five seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.to_thread(self.flush), FINAL_FLUSH_SECONDS)


def settle(runtime: object) -> None:
    """On a running server, write what is queued now so admin reads see every finished request."""
    monitor = getattr(runtime, "monitor", None)
    if isinstance(monitor, Monitor):
        monitor.flush()
