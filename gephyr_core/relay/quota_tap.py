"""Passive quota snapshots from relay traffic (accounts.md §9.1).

Every upstream answer passes through `QuotaTap.observe` with its headers in hand; only an
answer that carries the provider's rate-limit headers, or a 429 body, is parsed. The
snapshot applies to the live account at once (quota protection reacts on the next
request) and is persisted off the event loop at most once per 30 s per account, a 429 at
once. These writes do not bump the change counter: this server already holds the state.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from gephyr_core.accounts import quota
from gephyr_core.config import Settings
from gephyr_core.errors import GephyrError
from gephyr_core.store import quota as qstore
from gephyr_core.store.db import Store

log = logging.getLogger("gephyr.relay.quota")

WRITE_INTERVAL = 30.0
MAX_WRITES = 16  # snapshot writes in flight at once; more wait a second
_EXPIRING = ("percentage", "remaining_requests", "remaining_tokens", "reset_time")
_PREFIXES = {"openai": "x-ratelimit-", "anthropic": "anthropic-ratelimit-"}

Models = list[dict[str, Any]]


def _has_prefix(headers: Mapping[str, str], prefix: str) -> bool:
    return any(name.lower().startswith(prefix) for name in headers)


def parse(
    provider: str, model: str, status: int, headers: Mapping[str, str], body: bytes
) -> tuple[Models, str]:
    """QuotaModels an upstream answer carries and their source (`[]` when it carries none)."""
    if status == 429 and body:
        found = quota.from_error_body(provider, status, body, model)
        if found:
            return found, "error_body"
    prefix = _PREFIXES.get(provider)
    if prefix is None or not _has_prefix(headers, prefix):
        return [], ""
    entry = quota.from_headers(provider, headers, model)
    return ([entry], "headers") if entry is not None else ([], "")


def protection(settings: Settings) -> Callable[[list[str], dict[str, Any]], list[str]] | None:
    """`protected_models` after a snapshot under the current settings (None when protection is off)."""
    if not settings.get("quota_protection.enabled"):
        return None
    threshold = int(settings.get("quota_protection.threshold_percentage"))
    monitored = list(settings.get("quota_protection.monitored_models") or [])
    return lambda current, snapshot: quota.protect(current, snapshot, threshold, monitored)


class QuotaTap:
    """Reads rate-limit state from upstream answers; owned by a running server."""

    def __init__(
        self,
        store: Store,
        settings: Callable[[], Settings],
        accounts: Callable[[], list[dict[str, Any]]],
        changed: Callable[[str], None],
        interval: float = WRITE_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._settings = settings
        self._accounts = accounts
        self._changed = changed  # re-places the account in routing (MemoryState.quota_changed)
        self.interval = interval
        self._clock = clock
        self._pending: dict[str, dict[str, dict[str, Any]]] = {}  # account → model → QuotaModel
        self._source: dict[str, str] = {}
        self._written: dict[str, float] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._indexed: list[dict[str, Any]] | None = None
        self._index: dict[str, dict[str, Any]] = {}
        self.writes = 0  # snapshots persisted (tests and diagnostics)

    # -- the hook ----------------------------------------------------------------------------
    def observe(
        self,
        account: Mapping[str, Any],
        provider: str,
        model: str,
        status: int,
        headers: Mapping[str, str],
        body: bytes = b"",
    ) -> None:
        """Take what an upstream answer says about the account's quota; never raises."""
        try:
            models, source = parse(provider, model, status, headers, body)
            if models:
                self._apply(account, models, source)
                self._queue(str(account["id"]), models, source, urgent=status == 429)
            elif status < 400:
                self._expire_exhausted(account)
        except Exception:  # a malformed answer must never fail the request it came with
            log.debug("quota tap: cannot read the answer of account %s", account.get("id"), exc_info=True)

    def _live(self, account: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The attempt's account and the server's current copy of it (when they differ)."""
        accounts = self._accounts()
        if accounts is not self._indexed:
            self._index = {a["id"]: a for a in accounts}
            self._indexed = accounts
        live = self._index.get(account["id"])
        out = [account] if isinstance(account, dict) else []
        return out if live is None or live is account else [*out, live]

    def _apply(self, account: Mapping[str, Any], models: Models, source: str) -> None:
        """Update the live account; a change of protection re-ranks routing at once."""
        snapshot = quota.merge(account.get("quota"), quota.quota_data(models, source))
        protect = protection(self._settings())
        current = list(account.get("protected_models") or [])
        protected = protect(current, {"models": models}) if protect is not None else current
        for live in self._live(account):
            live["quota"] = snapshot
            live["protected_models"] = protected
        self._changed(str(account["id"]))  # O(log n) per route: share and protection moved

    def _expire_exhausted(self, account: Mapping[str, Any]) -> None:
        """Entries at 0 % whose reset time has passed become unknown after a successful call."""
        snapshot = account.get("quota")
        if not snapshot:
            return
        now = time.time()
        stale = [
            m
            for m in snapshot.get("models") or []
            if m.get("percentage") == 0 and m.get("reset_time") and m["reset_time"] <= now
        ]
        if not stale:
            return
        fresh = [{**m, **dict.fromkeys(_EXPIRING)} for m in stale]
        source = str(snapshot.get("source") or "headers")
        self._apply(account, fresh, source)
        self._queue(str(account["id"]), fresh, source, urgent=False)

    # -- writing -------------------------------------------------------------------------------
    def _queue(self, account_id: str, models: Models, source: str, urgent: bool) -> None:
        pending = self._pending.setdefault(account_id, {})
        pending.update((m["name"], m) for m in models)
        self._source[account_id] = source
        if account_id in self._timers and not urgent:
            return  # a write is already due; it takes these values along
        due = self._written.get(account_id, -math.inf) + self.interval
        now = self._clock()
        if urgent or now >= due:
            self._write(account_id)
        else:
            self._later(account_id, due - now)

    def _later(self, account_id: str, delay: float) -> None:
        self._cancel(account_id)
        loop = asyncio.get_running_loop()
        self._timers[account_id] = loop.call_later(delay, self._fire, account_id)

    def _cancel(self, account_id: str) -> None:
        timer = self._timers.pop(account_id, None)
        if timer is not None:
            timer.cancel()

    def _fire(self, account_id: str) -> None:
        self._timers.pop(account_id, None)
        self._write(account_id)

    def _write(self, account_id: str) -> None:
        if account_id not in self._pending:
            return
        if len(self._tasks) >= MAX_WRITES:
            self._later(account_id, 1.0)
            return
        self._cancel(account_id)
        snapshot = self._take(account_id)
        self._written[account_id] = self._clock()
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(self._save, account_id, snapshot))
        self._tasks.add(task)  # kept until done
        task.add_done_callback(self._tasks.discard)

    def _take(self, account_id: str) -> dict[str, Any]:
        models = self._pending.pop(account_id)
        return quota.quota_data(models.values(), self._source.pop(account_id, "headers"))

    def _save(self, account_id: str, snapshot: dict[str, Any]) -> None:
        try:
            qstore.save_snapshot(
                self.store,
                account_id,
                lambda old: quota.merge(old, snapshot),
                protection(self._settings()),
                change=False,
            )
        except KeyError:
            return  # the account was deleted meanwhile
        except GephyrError as exc:
            log.warning("quota snapshot of account %s not saved: %s", account_id, exc.message)
            return
        self.writes += 1

    async def drain(self) -> None:
        """Persist everything still pending and wait for the writes (shutdown)."""
        for account_id in list(self._timers):
            self._cancel(account_id)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        for account_id in list(self._pending):
            await asyncio.to_thread(self._save, account_id, self._take(account_id))
