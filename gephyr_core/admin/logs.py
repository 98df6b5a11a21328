"""Request logs (observability.md §2): list, count, show, clear, the monitor switch, totals."""

from __future__ import annotations

from typing import Any

from tomlkit.toml_document import TOMLDocument

from gephyr_core.admin import audit as snap
from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import Audit, Reply, operation
from gephyr_core.config.values import runtime_apply
from gephyr_core.errors import BadRequest, NotFound
from gephyr_core.monitor.writer import settle
from gephyr_core.store import logs as table

MAX_LIMIT = 1000


def _page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise BadRequest("offset must not be negative")


@operation("logs.list", "GET", "/api/logs")
def list_logs(
    ctx: AdminContext,
    filter: str | None = None,
    errors_only: bool = False,
    limit: int = 50,
    offset: int = 0,
    after_id: str | None = None,
) -> Reply:
    """Log summaries, newest first; with after_id, the ones written after that log, oldest first."""
    _page(limit, offset)
    settle(ctx.runtime)
    rows, total = table.list_logs(ctx.store, filter, errors_only, limit, offset, after_id)
    return Reply(rows, headers={"X-Total-Count": str(total)})


@operation("logs.count", "GET", "/api/logs/count")
def count_logs(ctx: AdminContext, filter: str | None = None, errors_only: bool = False) -> int:
    """How many logs match the filter."""
    settle(ctx.runtime)
    return table.count_logs(ctx.store, filter, errors_only)


@operation("logs.show", "GET", "/api/logs/{id}")
def show_log(ctx: AdminContext, id: str) -> dict[str, Any]:
    """One full log record, bodies and trace included."""
    settle(ctx.runtime)
    row = table.get_log(ctx.store, id)
    if row is None:
        raise NotFound(f"no request log with id {id!r}")
    return row


@operation("logs.clear", "POST", "/api/logs/clear")
def clear_logs(ctx: AdminContext) -> dict[str, int]:
    """Delete every request log."""
    settle(ctx.runtime)
    return {"deleted": table.clear_logs(ctx.store)}


@operation(
    "monitor.toggle",
    "POST",
    "/api/proxy/monitor/toggle",
    audit=Audit("monitor.toggle", snap.config_keys("monitor.enabled")),
)
def toggle(ctx: AdminContext, enabled: Any = None) -> dict[str, Any]:
    """Switch request logging on or off (saved, applied at once)."""
    if not isinstance(enabled, bool):
        raise BadRequest("enabled (true or false) is required")

    def mutate(doc: TOMLDocument) -> None:
        doc["monitor"]["enabled"] = enabled

    changed, _ = ctx.config.update(mutate)
    ctx.config_changed()
    return {"ok": True, "saved": True, "enabled": enabled, "runtime_apply": runtime_apply(changed)}


@operation("logs.stats", "GET", "/api/proxy/stats")
def proxy_stats(ctx: AdminContext) -> dict[str, int]:
    """Request totals over the stored logs (success = status 200-399)."""
    settle(ctx.runtime)
    return table.proxy_stats(ctx.store)
