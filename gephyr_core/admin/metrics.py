"""The metrics snapshot (observability.md §4): process-lifetime counters of a running server."""

from __future__ import annotations

import time
from typing import Any

from gephyr_core import __version__
from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import operation
from gephyr_core.config import Settings
from gephyr_core.config.validate import normalise_mode

RUNTIME_APPLY_POLICIES = ["always_hot_applied", "hot_applied_when_safe", "requires_restart"]
_REFRESH_KEYS = {
    "refresh_attempts_last_minute": 0,
    "refresh_attempts_by_account_last_minute": {},
    "scheduler_refresh_runs_last_minute": 0,
    "scheduler_refresh_failures_last_minute": 0,
    "scheduler_refresh_accounts_attempted_last_minute": 0,
}


@operation("metrics.show", "GET", "/api/proxy/metrics", runtime=True)
def show(ctx: AdminContext) -> dict[str, Any]:
    """Process-lifetime counters: runtime, monitor, sticky, rate limits, pool, compliance (needs a server)."""
    rt: Any = ctx.require_runtime()
    s: Settings = rt.settings
    status = rt.status()
    timeout = int(s.get("server.request_timeout"))
    bindings = rt.scheduling.bindings
    return {
        "timestamp_unix": int(time.time()),
        "version": __version__,
        "runtime": {
            "running": status["running"],
            "port": status["port"],
            "uptime_seconds": status["uptime_seconds"],
            "active_accounts": status["active_accounts"],
            "accounts_total": len(rt.accounts),
            "request_timeout": timeout,
            "effective_request_timeout": max(timeout, 5),
        },
        "monitor": rt.monitor.snapshot(),
        "sticky": {
            "persist_session_bindings": bool(s.get("routing.persist_session_bindings")),
            "scheduling_mode": normalise_mode(str(s.get("scheduling.mode"))) or "Balance",
            "scheduling_max_wait_seconds": s.get("scheduling.max_wait_seconds"),
            "session_bindings_count": len(bindings),
            "recent_events_count": len(bindings.events),
        },
        "rate_limits": _rate_limits(rt, s),
        "proxy_pool": _proxy_pool(rt, s),
        "compliance": _compliance(rt, s),
        "runtime_apply_policies_supported": list(RUNTIME_APPLY_POLICIES),
    }


def _rate_limits(rt: Any, s: Settings) -> dict[str, Any]:
    records = rt.scheduling.state.records()
    return {
        "circuit_breaker_enabled": bool(s.get("circuit_breaker.enabled")),
        "active_records": len(records),
        "accounts_limited": len({r.account_id for r in records}),
    }


def _proxy_pool(rt: Any, s: Settings) -> dict[str, Any]:
    pool = rt.pool
    proxies = pool.config().proxies
    counters = pool.metrics()
    return {
        "enabled": bool(s.get("pool.enabled")),
        "auto_failover": bool(s.get("pool.auto_failover")),
        "allow_shared_proxy_fallback": bool(s.get("pool.allow_shared_proxy_fallback")),
        "require_proxy_for_account_requests": bool(s.get("pool.require_proxy_for_account_requests")),
        "strategy": str(s.get("pool.strategy")),
        "configured_proxies": len(proxies),
        "healthy_proxies": sum(1 for p in proxies if p.enabled and pool.healthy(p.id)),
        "account_bindings_count": counters["bindings"],
        "shared_fallback_selections_total": counters["shared_fallback_selections_total"],
        "strict_rejections_total": counters["strict_rejections_total"],
    }


def _compliance(rt: Any, s: Settings) -> dict[str, Any]:
    guard = rt.scheduling.guard.snapshot()
    per_account = guard.get("account_requests_in_last_minute") or {}
    in_flight = guard.get("account_in_flight") or {}
    the_403 = guard.get("account_403_in_last_minute") or {}
    the_429 = guard.get("account_429_in_last_minute") or {}
    keys = (
        "enabled",
        "max_global_requests_per_minute",
        "max_account_requests_per_minute",
        "max_account_concurrency",
        "risk_cooldown_seconds",
        "max_retry_attempts",
    )
    scheduler = getattr(rt, "refresh_scheduler", None)  # the [scheduler] loop's refresh counters
    refresh = dict(_REFRESH_KEYS, refresh_attempts_last_minute=rt.oauth.refresher.attempts_last_minute())
    refresh.update(scheduler.snapshot() if scheduler is not None else {})
    return {
        **{k: s.get(f"compliance.{k}") for k in keys},
        "global_requests_in_last_minute": guard.get("global_requests_in_last_minute", 0),
        "tracked_accounts_last_minute": len(per_account),
        "total_account_requests_in_last_minute": sum(per_account.values()),
        "tracked_accounts_in_flight": len(in_flight),
        "total_account_in_flight": sum(in_flight.values()),
        "accounts_in_cooldown": len(guard.get("account_cooldown_seconds_remaining") or {}),
        "risk_signals_last_minute": guard.get("risk_signals_last_minute", 0),
        "account_switches_last_minute": guard.get("account_switches_last_minute", 0),
        "accounts_with_403_in_last_minute": len(the_403),
        "accounts_with_429_in_last_minute": len(the_429),
        "account_403_in_last_minute": the_403,
        "account_429_in_last_minute": the_429,
        **{k: refresh.get(k, default) for k, default in _REFRESH_KEYS.items()},
    }
