"""Runtime state of one running server and the watchers that keep it in step with the data dir.

A change another process makes to `config.toml` (stamp checked every 2 s) or to the records
(`meta.change_counter`, polled every second) is applied without a restart (Rule 3).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from gephyr_core import __version__
from gephyr_core.accounts.probe import Verifier
from gephyr_core.accounts.scheduler import RefreshScheduler
from gephyr_core.accounts.view import routable
from gephyr_core.admin.context import AdminContext
from gephyr_core.config import Settings
from gephyr_core.errors import GephyrError
from gephyr_core.monitor.prometheus import Metrics
from gephyr_core.monitor.writer import Monitor
from gephyr_core.oauth.runtime import OAuthRuntime
from gephyr_core.pool.router import EgressRouter
from gephyr_core.relay.http import ClientPool
from gephyr_core.relay.quota_tap import QuotaTap
from gephyr_core.relay.scheduling_runtime import SchedulingRuntime
from gephyr_core.security.state import SecurityState
from gephyr_core.store import accounts as table
from gephyr_core.store.profiles import current_headers

log = logging.getLogger("gephyr.server")


class ServerRuntime:
    """Live state held by a running server (runtime-only state lives here)."""

    def __init__(self, ctx: AdminContext, settings: Settings, overrides: Mapping[str, Any]) -> None:
        self.ctx = ctx
        self.overrides = dict(overrides)
        self._settings = settings
        self.local_token = secrets.token_hex(32)
        self.started_at = time.time()
        self.port = int(settings.get("server.port"))
        self.running = bool(settings.get("server.auto_start"))
        # Set by `gephyr serve` to begin a graceful shutdown (POST /api/proxy/stop).
        self.shutdown_hook: Callable[[], None] | None = None
        self.security = SecurityState(ctx.store, lambda: self._settings)
        self.monitor = Monitor(ctx.store, lambda: self._settings, lambda: self.accounts)
        self.metrics = Metrics(self)  # Prometheus series of this server (/metrics)
        if not self.running:
            log.warning("the relay starts stopped (server.auto_start = false): run `gephyr server start`")
        if settings.get("admin.enabled") and not settings.get("auth.admin_password"):
            log.warning("the admin API accepts the relay API key: set auth.admin_password")
        self.oauth = OAuthRuntime(ctx.store, ctx.box, lambda: self._settings)
        self.accounts: list[dict[str, Any]] = []
        # passive quota snapshots from relay answers, and the [scheduler] loop (config.md §7)
        self.quota_tap = QuotaTap(
            ctx.store, lambda: self._settings, lambda: self.accounts, self._quota_changed
        )
        self.refresh_scheduler = RefreshScheduler(
            self._verifier, lambda: self._settings, lambda: self.accounts, self.oauth.refresher
        )
        self.pool = EgressRouter(lambda: self._settings)  # egress proxy pool: health, counters, bindings
        self.pool_clients: ClientPool | None = None  # the relay's clients, set by create_app
        self.scheduling = SchedulingRuntime(ctx.store, lambda: self._settings)
        self.last_reload_error: str | None = None
        self.health_stop = threading.Event()  # ends a running health check between accounts
        self._health_in_thread = False  # past the startup pause: the check is running
        self._counter = -1
        self._config_stamp: tuple[float, int, str] | None = None
        ctx.runtime = self
        self.reload_accounts()
        self.scheduling.restore(self.accounts, routable)
        with contextlib.suppress(OSError):
            self._config_stamp = ctx.config.stamp()

    @property
    def settings(self) -> Settings:
        return self._settings

    def _quota_changed(self, account_id: str) -> None:
        self.scheduling.state.quota_changed(account_id)

    def _verifier(self) -> Verifier:
        return Verifier(self.ctx.store, self.ctx.box, lambda: self._settings, self.oauth.refresher)

    # -- Runtime protocol ------------------------------------------------------------------
    def records_changed(self) -> None:
        self.reload_accounts()
        self.security.reload()

    def config_changed(self) -> None:
        self.reload_config()

    def status(self) -> dict[str, Any]:
        public = str(self._settings.get("server.public_url") or "")
        return {
            "running": self.running,
            "port": self.port,
            "base_url": public or f"http://127.0.0.1:{self.port}",
            "active_accounts": sum(routable(a) for a in self.accounts),
            "uptime_seconds": int(time.time() - self.started_at),
            "last_reload_error": self.last_reload_error,
        }

    # -- reloading -------------------------------------------------------------------------
    def reload_accounts(self) -> None:
        """Re-read the account records (the in-memory pool the relay routes over)."""
        self._counter = self.ctx.store.change_counter()
        accounts = table.list_accounts(self.ctx.store)
        profiles = current_headers(self.ctx.store)
        for account in accounts:
            account["profile_headers"] = profiles.get(account["id"])
        self.accounts = accounts
        from gephyr_core.store import pool as pool_table

        self.pool.bindings = pool_table.load(self.ctx.store)
        if hasattr(self, "scheduling"):  # bindings of accounts that left routing go with them
            self.scheduling.accounts_changed(accounts, routable)

    def reload_config(self) -> None:
        """Re-read config.toml; an invalid file keeps the running config and records why."""
        from gephyr_core.config.validate import validate

        try:
            settings = self.ctx.config.settings(self.ctx.env, self.overrides)
            problems, _ = validate(settings.data)
            if problems:
                raise GephyrError("; ".join(f"{p['field']}: {p['message']}" for p in problems))
        except GephyrError as exc:
            if exc.message != self.last_reload_error:
                log.error("config reload failed, keeping the running config: %s", exc.message)
            self.last_reload_error = exc.message
            return
        self._settings = settings
        self.last_reload_error = None
        with contextlib.suppress(OSError):
            self._config_stamp = self.ctx.config.stamp()

    def poll_once(self) -> None:
        """One watcher step: reload what another process changed."""
        counter = self.ctx.store.change_counter()
        if counter != self._counter:
            self.reload_accounts()
            self.security.reload()
        try:
            stamp = self.ctx.config.stamp()
        except OSError:
            return
        if stamp != self._config_stamp:
            self._config_stamp = stamp
            self.reload_config()

    async def watch(self, interval: float = 1.0) -> None:
        """Poll the database counter every second and the config file every other tick."""
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.poll_once)
                await self.scheduling.tick()
            except GephyrError as exc:
                log.error("watcher: %s", exc.message)

    async def startup_health(self) -> dict[str, Any] | None:
        """The startup health check (accounts.md §8): after a random pause, in a worker thread."""
        settings = self._settings
        if not settings.get("startup_health.enabled"):
            return None
        from gephyr_core.accounts import health

        low = float(settings.get("startup_health.delay_min_seconds") or 0)
        high = max(low, float(settings.get("startup_health.delay_max_seconds") or 0))
        await asyncio.sleep(random.uniform(low, high))  # lets the listener come up first
        verifier = self._verifier()
        try:
            # Its writes bump the change counter: the watcher reloads the pool (no reload here).
            self._health_in_thread = True
            summary = await asyncio.to_thread(health.run, verifier, stop=self.health_stop)
        except GephyrError as exc:
            log.error("startup health check failed: %s", exc.message)
            return None
        log.info(
            "startup health check: %d account(s), %d refreshed, %d disabled, %d errors",
            summary["total"], summary["refreshed"], summary["disabled"], summary["network_errors"],
        )
        return summary

    async def end_startup_health(self, task: asyncio.Task[Any]) -> None:
        """Stop the health check between accounts, let the one in flight finish (bounded), reap it."""
        self.health_stop.set()
        # Still in the startup pause: nothing is in flight, so shutdown need not wait for it.
        timeout = float(self._settings.get("startup_health.refresh_timeout_seconds") or 10) + 1
        if not self._health_in_thread:
            timeout = 0
        await asyncio.wait({task}, timeout=timeout)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def server_info(self, host: str) -> dict[str, Any]:
        """The `server.json` record."""
        import os

        return {
            "pid": os.getpid(),
            "port": self.port,
            "host": host,
            "base_url": f"http://127.0.0.1:{self.port}",
            "public_url": self._settings.get("server.public_url") or None,
            "version": __version__,
            "started_at": int(self.started_at),
            "admin_api_enabled": bool(self._settings.get("admin.enabled")),
            "local_token": self.local_token,
        }
