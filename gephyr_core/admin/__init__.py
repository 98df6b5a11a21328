"""Admin operations, each defined once (ARCHITECTURE Rule 2), and their dispatcher."""

from __future__ import annotations

import functools
from typing import Any

from gephyr_core.admin.context import AdminContext, open_context
from gephyr_core.admin.registry import Operation, Reply, collect
from gephyr_core.store import audit as audit_log

_NOT_OPERATIONS = {"context", "registry"}


@functools.cache
def catalog() -> dict[str, Operation]:
    """Every operation by name, from every module of this package (adding a module adds its ops)."""
    import importlib
    import pkgutil

    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_OPERATIONS)
    return collect([importlib.import_module(f"{__name__}.{name}") for name in names])


_SECRET_ARGS = {"api_key", "refresh_token", "admin_password", "password", "body", "config"}


def _audit(ctx: AdminContext, op: Operation, kwargs: dict[str, Any]) -> None:
    target = next((str(kwargs[p.name]) for p in op.params if p.source == "path"), None)
    shown = {k: ("__redacted__" if k in _SECRET_ARGS else v) for k, v in kwargs.items()}
    audit_log.record(
        ctx.store, ctx.actor, op.name, target, after=shown, request_id=ctx.request_id, client_ip=ctx.client_ip
    )


def invoke(ctx: AdminContext, op: Operation, kwargs: dict[str, Any]) -> Reply:
    """Run an operation; mutating ones are audited after they succeed."""
    result = op.func(ctx, **kwargs)
    reply = result if isinstance(result, Reply) else Reply(result, op.status)
    if op.mutating:
        _audit(ctx, op, kwargs)
    return reply


__all__ = ["AdminContext", "Operation", "Reply", "catalog", "invoke", "open_context"]
