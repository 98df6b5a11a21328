"""Token statistics over the hourly rollup (observability.md §3)."""

from __future__ import annotations

from typing import Any

from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import operation
from gephyr_core.errors import BadRequest
from gephyr_core.monitor.writer import settle
from gephyr_core.store import stats as table

Rows = list[dict[str, Any]]


def _ready(ctx: AdminContext, name: str, value: int, high: int) -> None:
    """Refuse an out-of-range window, then store what the writer still holds."""
    if not 1 <= value <= high:
        raise BadRequest(f"{name} must be between 1 and {high}")
    settle(ctx.runtime)


@operation("stats.hourly", "GET", "/api/stats/token/hourly")
def hourly(ctx: AdminContext, hours: int = 24) -> Rows:
    """Token totals per hour."""
    _ready(ctx, "hours", hours, 8760)
    return table.periods(ctx.store, hours, 16)


@operation("stats.daily", "GET", "/api/stats/token/daily")
def daily(ctx: AdminContext, days: int = 7) -> Rows:
    """Token totals per day (UTC)."""
    _ready(ctx, "days", days, 366)
    return table.periods(ctx.store, days * 24, 10)


@operation("stats.weekly", "GET", "/api/stats/token/weekly")
def weekly(ctx: AdminContext, weeks: int = 4) -> Rows:
    """Token totals per ISO week."""
    _ready(ctx, "weeks", weeks, 104)
    return table.weekly(ctx.store, weeks)


@operation("stats.by_account", "GET", "/api/stats/token/by-account")
def by_account(ctx: AdminContext, hours: int = 168) -> Rows:
    """Token totals per account, biggest first."""
    _ready(ctx, "hours", hours, 8760)
    return table.by(ctx.store, "account", hours)


@operation("stats.by_model", "GET", "/api/stats/token/by-model")
def by_model(ctx: AdminContext, hours: int = 168) -> Rows:
    """Token totals per upstream model, biggest first."""
    _ready(ctx, "hours", hours, 8760)
    return table.by(ctx.store, "model", hours)


@operation("stats.summary", "GET", "/api/stats/token/summary")
def summary(ctx: AdminContext, hours: int = 168) -> dict[str, Any]:
    """Token totals, requests and distinct accounts over a window."""
    _ready(ctx, "hours", hours, 8760)
    return table.summary(ctx.store, hours)


@operation("stats.model_trend", "GET", "/api/stats/token/model-trend/hourly")
def model_trend(ctx: AdminContext) -> Rows:
    """Tokens per model per hour over the last 24 hours."""
    settle(ctx.runtime)
    return table.trend(ctx.store, "model", 24, 16)


@operation("stats.model_trend_daily", "GET", "/api/stats/token/model-trend/daily")
def model_trend_daily(ctx: AdminContext) -> Rows:
    """Tokens per model per day over the last 7 days."""
    settle(ctx.runtime)
    return table.trend(ctx.store, "model", 7 * 24, 10)


@operation("stats.account_trend", "GET", "/api/stats/token/account-trend/hourly")
def account_trend(ctx: AdminContext) -> Rows:
    """Tokens per account per hour over the last 24 hours."""
    settle(ctx.runtime)
    return table.trend(ctx.store, "account", 24, 16)


@operation("stats.account_trend_daily", "GET", "/api/stats/token/account-trend/daily")
def account_trend_daily(ctx: AdminContext) -> Rows:
    """Tokens per account per day over the last 7 days."""
    settle(ctx.runtime)
    return table.trend(ctx.store, "account", 7 * 24, 10)


@operation("stats.clear", "POST", "/api/stats/token/clear")
def clear(ctx: AdminContext) -> dict[str, bool]:
    """Delete every token usage row and hourly rollup."""
    settle(ctx.runtime)
    table.clear(ctx.store)
    return {"ok": True}
