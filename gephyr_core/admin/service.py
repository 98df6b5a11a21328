"""Service stop/start (security.md §10): public routes answer 503 while stopped; admin stays up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, cast

from gephyr_core.admin.config import save_patch
from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import operation


class _Service(Protocol):
    running: bool
    shutdown_hook: Callable[[], None] | None

    def records_changed(self) -> None: ...


@operation("server.start", "POST", "/api/proxy/start", runtime=True, audit="proxy.start")
def start(ctx: AdminContext) -> dict[str, Any]:
    """Serve the public routes again (saved: the relay starts serving after a restart too)."""
    rt = cast(_Service, ctx.require_runtime())
    save_patch(ctx, {"server": {"auto_start": True}})
    rt.records_changed()
    rt.running = True
    return {"ok": True, "running": True}


@operation("server.stop", "POST", "/api/proxy/stop", runtime=True, audit="proxy.stop")
def stop(ctx: AdminContext) -> dict[str, Any]:
    """Stop serving the public routes (503 service_disabled); with admin.stop_shuts_down, exit."""
    rt = cast(_Service, ctx.require_runtime())
    save_patch(ctx, {"server": {"auto_start": False}})
    rt.running = False
    shutting_down = bool(ctx.settings().get("admin.stop_shuts_down")) and rt.shutdown_hook is not None
    if shutting_down and rt.shutdown_hook is not None:
        # uvicorn's graceful shutdown lets this in-flight reply finish before closing.
        rt.shutdown_hook()
    return {"ok": True, "running": False, "shutting_down": shutting_down}
