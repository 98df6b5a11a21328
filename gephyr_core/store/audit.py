"""The `audit_events` table: one writer for every audited change."""

from __future__ import annotations

import json
import time
from typing import Any

from gephyr_core.store.db import Store


def record(
    store: Store,
    actor: str,
    action: str,
    target: str | None = None,
    after: Any = None,
    before: Any = None,
    request_id: str | None = None,
    client_ip: str | None = None,
) -> None:
    """Store one audit event (values already redacted by the caller)."""
    with store.transaction() as db:
        db.table("audit_events").insert(
            {
                "timestamp": int(time.time()),
                "actor": actor,
                "action": action,
                "target": target,
                "before": None if before is None else json.dumps(before, default=str),
                "after": None if after is None else json.dumps(after, default=str),
                "request_id": request_id,
                "client_ip": client_ip,
            }
        )
