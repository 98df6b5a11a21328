"""The debug console (integrations.md §3): a runtime-only ring of the server's log records.

The console is a logging handler on the `gephyr` logger, created on first use and kept on
the running server's runtime object; it captures what the server logs (at `logging.level`)
while enabled. Every operation here needs a running server.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
from typing import Any

from gephyr_core.admin import audit as snap
from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import Audit, operation
from gephyr_core.errors import BadRequest

CAPACITY = 5000
FIELDS = ("request_id", "correlation_id", "account_id", "model", "provider", "status")
LEVELS = ("debug", "info", "warning", "error", "critical")


class DebugConsole(logging.Handler):
    """A bounded ring of log records as JSON-able events, newest last."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        super().__init__(logging.DEBUG)
        self.enabled = False
        self._ring: collections.deque[dict[str, Any]] = collections.deque(maxlen=capacity)
        self._ids = itertools.count(1)
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if not self.enabled:
            return
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        fields = {k: getattr(record, k) for k in FIELDS if getattr(record, k, None) is not None}
        with self._guard:
            self._ring.append(
                {
                    "id": next(self._ids),
                    "timestamp": record.created,
                    "level": record.levelname.lower(),
                    "target": record.name,
                    "message": message,
                    "fields": {
                        k: v if isinstance(v, int | float | bool) else str(v) for k, v in fields.items()
                    },
                }
            )

    def events(self, limit: int, level: str | None, after_id: int | None) -> list[dict[str, Any]]:
        """Newest first; with `after_id`, the events after it in ascending order."""
        with self._guard:
            items = list(self._ring)
        if level:
            items = [e for e in items if e["level"] == level]
        if after_id is not None:
            return [e for e in items if e["id"] > after_id][:limit]
        return items[::-1][:limit]

    def clear(self) -> int:
        with self._guard:
            n = len(self._ring)
            self._ring.clear()
        return n


def _console(ctx: AdminContext) -> DebugConsole:
    rt = ctx.require_runtime()
    console = getattr(rt, "debug_console", None)
    if not isinstance(console, DebugConsole):
        console = DebugConsole()
        rt.debug_console = console  # type: ignore[attr-defined]  # runtime-only state lives on the runtime
        logging.getLogger("gephyr").addHandler(console)
    return console


@operation(
    "debug.enable",
    "POST",
    "/api/debug/enable",
    runtime=True,
    audit=Audit("debug.enable", snap.config_keys("debug_logging.enabled")),
)
def enable(ctx: AdminContext) -> dict[str, Any]:
    """Start capturing the server's log records into the debug ring."""
    _console(ctx).enabled = True
    return {"ok": True, "enabled": True}


@operation(
    "debug.disable",
    "POST",
    "/api/debug/disable",
    runtime=True,
    audit=Audit("debug.disable", snap.config_keys("debug_logging.enabled")),
)
def disable(ctx: AdminContext) -> dict[str, Any]:
    """Stop capturing (the captured records are kept)."""
    _console(ctx).enabled = False
    return {"ok": True, "enabled": False}


@operation("debug.enabled", "GET", "/api/debug/enabled", runtime=True)
def enabled(ctx: AdminContext) -> bool:
    """Whether the debug console is capturing."""
    return _console(ctx).enabled


@operation("debug.logs", "GET", "/api/debug/logs", runtime=True)
def logs(ctx: AdminContext, limit: int = 200, level: str | None = None, after_id: int | None = None) -> Any:
    """Captured records, newest first (or those after `after_id`, oldest first)."""
    if level is not None and level.lower() not in LEVELS:
        raise BadRequest(f"level must be one of {', '.join(LEVELS)}")
    limit = max(1, min(limit, CAPACITY))
    return _console(ctx).events(limit, level.lower() if level else None, after_id)


@operation("debug.clear", "POST", "/api/debug/logs/clear", runtime=True)
def clear(ctx: AdminContext) -> dict[str, Any]:
    """Empty the debug ring."""
    return {"ok": True, "cleared": _console(ctx).clear()}
