"""Batched background writes of the security layers: token usage, access logs, list hits, audits.

The request path only appends to in-memory lists (bounded: when full, entries are dropped
and counted, never awaited); a task owned by the server flushes them in one transaction
every second and once more at shutdown (Rule 4). These are the server's own writes, so
they never bump the change counter.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from gephyr_core.store import audit, iplists
from gephyr_core.store import tokens as token_table
from gephyr_core.store.db import Store
from gephyr_core.store.tokens import Usage


@dataclass
class _Batch:
    usage: list[Usage] = field(default_factory=list)
    access: list[dict[str, Any]] = field(default_factory=list)
    hits: dict[str, tuple[int, int]] = field(default_factory=dict)
    audits: list[dict[str, Any]] = field(default_factory=list)

    def size(self) -> int:
        return len(self.usage) + len(self.access) + len(self.audits)


class SecurityWriter:
    """Queues writes from the event loop; `flush` runs in a worker thread."""

    def __init__(self, limit: int = 10000) -> None:
        self.limit = limit
        self.dropped = 0
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one flush at a time (the task, or an admin read)
        self._queued = _Batch()
        self._inflight = _Batch()

    def _room(self) -> bool:
        if self._queued.size() >= self.limit:
            self.dropped += 1
            return False
        return True

    def usage(self, item: Usage) -> None:
        with self._lock:
            if self._room():
                self._queued.usage.append(item)

    def access(self, row: dict[str, Any]) -> None:
        with self._lock:
            if self._room():
                self._queued.access.append(row)

    def hit(self, pattern: str, when: int) -> None:
        with self._lock:
            count, _ = self._queued.hits.get(pattern, (0, 0))
            self._queued.hits[pattern] = (count + 1, when)

    def audit(
        self,
        actor: str,
        action: str,
        target: str | None,
        details: dict[str, Any],
        client_ip: str | None,
        request_id: str | None,
    ) -> None:
        """An audit event written by the server itself (e.g. `admin.lockout`), logged at once."""
        event = {
            "timestamp": int(time.time()),
            "actor": actor,
            "action": action,
            "target": target,
            "before": None,
            "after": audit.scrub(details),
            "request_id": request_id,
            "client_ip": client_ip,
        }
        # the line goes out now; the row follows with the next batch (no id to show yet)
        audit.log.info("[ADMIN_AUDIT] %s", json.dumps(event, default=str, sort_keys=True))
        with self._lock:
            self._queued.audits.append({**event, "after": json.dumps(event["after"], default=str)})

    def pending_bindings(self) -> set[tuple[str, str]]:
        """(token id, IP) of usage not yet committed, queued or being written."""
        with self._lock:
            items = [*self._queued.usage, *self._inflight.usage]
        return {(u.token_id, u.ip) for u in items if u.ip is not None}

    def pending(self) -> int:
        with self._lock:
            return self._queued.size() + len(self._queued.hits)

    def flush(self, store: Store) -> int:
        """Write everything queued in one transaction; the number of entries written."""
        with self._flushing:
            return self._flush(store)

    def _flush(self, store: Store) -> int:
        with self._lock:
            batch, self._queued = self._queued, _Batch()
            self._inflight = batch
        try:
            if not (batch.size() or batch.hits):
                return 0
            with store.transaction() as db:
                token_table.record_usage(db, batch.usage)
                if batch.access:
                    iplists.insert_access_logs(db, batch.access)
                iplists.add_hits(db, batch.hits)
                if batch.audits:
                    db.table("audit_events").insert_all(batch.audits)
            return batch.size() + len(batch.hits)
        finally:
            with self._lock:
                self._inflight = _Batch()
