"""System operations (integrations.md §2): the data dir path and clearing the log files."""

from __future__ import annotations

import os
from typing import Any

from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import operation
from gephyr_core.errors import StorageError


@operation("system.data_dir", "GET", "/api/system/data-dir")
def data_dir(ctx: AdminContext) -> str:
    """The absolute data dir path."""
    return str(ctx.dd.root.resolve())


@operation("system.clear_logs", "POST", "/api/system/logs/clear-cache", audit="system.clear_log_cache")
def clear_logs(ctx: AdminContext) -> dict[str, Any]:
    """Truncate every file in <data dir>/logs (files stay, so open handles keep working)."""
    logs = ctx.dd.logs_dir
    files, freed = 0, 0
    if logs.is_dir():
        for path in sorted(logs.iterdir()):
            if not path.is_file() or path.is_symlink():
                continue
            try:
                size = path.stat().st_size
                os.truncate(path, 0)
            except OSError as exc:
                raise StorageError(f"cannot truncate {path}: {exc.strerror}") from None
            files += 1
            freed += size
    return {"ok": True, "files": files, "bytes_freed": freed}
