"""Audit events (observability.md §7): the stored rows, newest first."""

from __future__ import annotations

from typing import Any

from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import Reply, operation
from gephyr_core.errors import BadRequest
from gephyr_core.security.state import settle


@operation("audit.list", "GET", "/api/audit")
def list_events(ctx: AdminContext, limit: int = 50, offset: int = 0, action: str | None = None) -> Reply:
    """Audit events, newest first; `action` is an exact name or a prefix ending in '.'."""
    if not 1 <= limit <= 1000:
        raise BadRequest("limit must be between 1 and 1000")
    if offset < 0:
        raise BadRequest("offset must not be negative")
    settle(ctx.runtime)  # events the server wrote itself (e.g. admin.lockout) are queued there
    where, args = "", list[str]()
    if action:
        where, args = (
            (" WHERE action LIKE ? ESCAPE '\\'", [_escape(action) + "%"])
            if action.endswith(".")
            else (" WHERE action = ?", [action])
        )
    with ctx.store.reading() as db:
        total = db.execute(f"SELECT count(*) FROM audit_events{where}", args).fetchone()[0]
        rows: list[dict[str, Any]] = list(
            db.query(
                f"SELECT * FROM audit_events{where} ORDER BY timestamp DESC, id DESC LIMIT ? OFFSET ?",
                [*args, limit, offset],
            )
        )
    return Reply(rows, headers={"X-Total-Count": str(total)})


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
