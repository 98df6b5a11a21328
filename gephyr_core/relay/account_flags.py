"""Account state the relay learns from traffic (accounts.md §4): forbidden and validation blocks.

An upstream 401 on an API key, or a 403, takes the account out of routing at once (in the
server's memory) and is persisted in the background; a server's own writes do not bump the
change counter (spec/README.md), so the in-memory list is replaced here directly.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from gephyr_core.store.db import Store

VALIDATION_BLOCK_SECONDS = 600
_VALIDATION_MARKERS = ("validation_required", "verify your account", "validation_url")


def flags_for(
    status: int, body: bytes, credential_kind: str, refreshed: bool = False
) -> dict[str, Any] | None:
    """The account fields an upstream 401/403 sets, or None.

    An OAuth account is only forbidden by a 401 that came back after a successful forced
    refresh (`refreshed`); before that the relay refreshes and retries it.
    """
    now = int(time.time())
    text = body.decode("utf-8", "replace")
    if status == 401 and (credential_kind == "api_key" or refreshed):
        return {"forbidden": True, "forbidden_reason": "upstream_401", "forbidden_at": now}
    if status != 403:
        return None
    if any(marker in text.lower() for marker in _VALIDATION_MARKERS):
        return {"validation_blocked": True, "validation_blocked_until": now + VALIDATION_BLOCK_SECONDS,
                "validation_blocked_reason": "validation_required"}
    message = _message(text)
    return {"forbidden": True, "forbidden_reason": f"upstream_403: {message}"[:800], "forbidden_at": now}


def _message(text: str) -> str:
    try:
        obj = json.loads(text)
    except ValueError:
        return text.strip()[:200]
    err = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        return str(err["message"])[:200]
    return text.strip()[:200]


class AccountFlags:
    """Applies learned flags to the live account list and writes them behind the request."""

    def __init__(self, store: Store, get: Callable[[], list[dict[str, Any]]],
                 put: Callable[[list[dict[str, Any]]], None]) -> None:
        self.store = store
        self._get = get
        self._put = put
        self._tasks: set[asyncio.Task[None]] = set()

    def apply(self, account_id: str, fields: dict[str, Any]) -> None:
        """Replace the account in memory now; persist it off the event loop."""
        self._put([{**a, **fields} if a["id"] == account_id else a for a in self._get()])
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(self._write, account_id, fields))
        self._tasks.add(task)  # keep a reference until done
        task.add_done_callback(self._tasks.discard)

    def _write(self, account_id: str, fields: dict[str, Any]) -> None:
        from gephyr_core.store import accounts as table

        with self.store.transaction() as db:
            table.update_account(db, account_id, fields)

    async def drain(self) -> None:
        """Wait for pending writes (shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
