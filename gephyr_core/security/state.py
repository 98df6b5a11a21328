"""What a running server holds for the security layers, and the task that keeps it written."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gephyr_core.config import Settings
from gephyr_core.errors import GephyrError
from gephyr_core.security.clientip import TrustedProxies, client_ip
from gephyr_core.security.ipfilter import IpLists, Matcher
from gephyr_core.security.lockout import Lockout, LockoutPolicy
from gephyr_core.security.tokens import TokenCache
from gephyr_core.security.writer import SecurityWriter
from gephyr_core.store import iplists
from gephyr_core.store import tokens as token_table
from gephyr_core.store.db import Store

log = logging.getLogger("gephyr.security")

PURGE_INTERVAL = 60.0
FINAL_FLUSH_SECONDS = 5.0


@dataclass(frozen=True)
class Policy:
    """The settings the layers read on every request, derived once per settings snapshot."""

    mode: str
    api_key: str
    trusted: TrustedProxies
    monitor: Mapping[str, Any]
    block_message: str
    cors_mode: str
    cors_origins: frozenset[str]
    lockout: LockoutPolicy
    max_body: int

    @classmethod
    def of(cls, settings: Settings) -> Policy:
        monitor = settings.get("security_monitor") or {}
        return cls(
            mode=str(settings.get("auth.mode")),
            api_key=str(settings.get("auth.api_key") or ""),
            trusted=TrustedProxies.parse(settings.get("auth.trusted_proxies") or []),
            monitor=monitor,
            block_message=str((monitor.get("blacklist") or {}).get("block_message") or ""),
            cors_mode=str(settings.get("cors.mode")),
            cors_origins=frozenset(str(o).rstrip("/") for o in settings.get("cors.allowed_origins") or []),
            lockout=LockoutPolicy(
                int(settings.get("admin.lockout_max_failures")),
                int(settings.get("admin.lockout_window_seconds")),
                int(settings.get("admin.lockout_seconds")),
            ),
            max_body=int(settings.get("server.max_body_size")),
        )


class SecurityState:
    """Token cache, IP lists, lockout and the writer of one running server."""

    def __init__(self, store: Store, settings: Callable[[], Settings]) -> None:
        self.store = store
        self._settings = settings
        self._policy: tuple[Settings, Policy] | None = None
        self.lockout = Lockout()
        self.blocked = {"blacklist": 0, "whitelist": 0}  # requests the IP filter refused (metrics)
        self.writer = SecurityWriter(int(settings().get("monitor.queue_size") or 10000))
        self.tokens = TokenCache()
        self.lists = IpLists()
        self.reload()

    @property
    def policy(self) -> Policy:
        settings = self._settings()
        cached = self._policy
        if cached is None or cached[0] is not settings:
            cached = (settings, Policy.of(settings))
            self._policy = cached
        return cached[1]

    def client_ip(self, peer: str | None, headers: Mapping[str, str]) -> str | None:
        return client_ip(peer, headers, self.policy.trusted)

    def reload(self) -> None:
        """Re-read tokens and IP lists; on failure the last good copy stays in use."""
        try:
            pending = self.writer.pending_bindings()
            rows, bound = token_table.load_all(self.store)
            cache = TokenCache.build(rows, bound)
            cache.merge_pending(pending)
            black = iplists.list_entries(self.store, "blacklist")
            white = iplists.list_entries(self.store, "whitelist")
        except GephyrError as exc:
            log.error("cannot load user tokens or IP lists, keeping the last good copy: %s", exc.message)
            return
        self.tokens = cache
        self.lists = IpLists(Matcher.build(black), Matcher.build(white), True)

    def flush(self) -> int:
        """Write what the layers queued (worker thread)."""
        try:
            return self.writer.flush(self.store)
        except GephyrError as exc:
            log.error("security writer: %s", exc.message)
            return 0

    def purge(self) -> None:
        """Drop expired blacklist entries (they are already ignored in memory)."""
        try:
            with self.store.transaction() as db:
                iplists.purge_expired(db, int(time.time()))
        except GephyrError as exc:
            log.error("purging expired blacklist entries: %s", exc.message)

    async def run(self, interval: float = 1.0) -> None:
        """Flush every `interval` seconds and purge expired entries every minute."""
        last_purge = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            await asyncio.to_thread(self.flush)
            if time.monotonic() - last_purge >= PURGE_INTERVAL:
                last_purge = time.monotonic()
                await asyncio.to_thread(self.purge)

    async def final_flush(self) -> None:
        """The shutdown flush, bounded to five seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.to_thread(self.flush), FINAL_FLUSH_SECONDS)


def settle(runtime: object) -> None:
    """On a running server, store the queued writes now: admin reads then see every request
    so far, and a reload cannot bring back IP bindings an operation is about to delete."""
    security = getattr(runtime, "security", None)
    if isinstance(security, SecurityState):
        security.flush()
