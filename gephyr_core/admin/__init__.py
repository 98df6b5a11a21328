"""Admin operations, each defined once (ARCHITECTURE Rule 2), and their dispatcher."""

from __future__ import annotations

import functools
from typing import Any

from gephyr_core.admin.context import AdminContext, open_context
from gephyr_core.admin.registry import Audit, Operation, Reply, collect
from gephyr_core.store import audit as audit_log

_NOT_OPERATIONS = {"context", "registry"}


@functools.cache
def catalog() -> dict[str, Operation]:
    """Every operation by name, from every module of this package (adding a module adds its ops)."""
    import importlib
    import pkgutil

    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _NOT_OPERATIONS)
    return collect([importlib.import_module(f"{__name__}.{name}") for name in names])


# Parameters naming the record an operation changes, when it is not in the path.
_TARGETS = ("account_id", "proxy_id", "ip_pattern", "username", "app_type")


def _target(op: Operation, kwargs: dict[str, Any]) -> str | None:
    names = [p.name for p in op.params if p.source == "path"] + [n for n in _TARGETS if n in kwargs]
    return next((str(kwargs[n]) for n in names if kwargs.get(n) is not None), None)


def _audit(
    ctx: AdminContext, op: Operation, spec: Audit, kwargs: dict[str, Any], before: Any, reply: Reply
) -> None:
    """One event: before/after snapshots when the operation declares them, else its arguments."""
    if spec.snapshot is None:
        before, after = None, kwargs
    else:
        after = spec.snapshot(ctx, kwargs)
        if spec.summarize is not None:
            before, after = spec.summarize(before, after)
        warnings = reply.data.get("warnings") if isinstance(reply.data, dict) else None
        if warnings and isinstance(after, dict):
            after = {**after, "warnings": warnings}
    audit_log.record(
        ctx.store,
        ctx.actor,
        spec.action,
        _target(op, kwargs),
        after=after,
        before=before,
        request_id=ctx.request_id,
        client_ip=ctx.client_ip,
    )


def invoke(ctx: AdminContext, op: Operation, kwargs: dict[str, Any]) -> Reply:
    """Run an operation; audited ones write one event after they succeed (observability.md §7)."""
    spec = op.audit if op.audit and (op.audit.when is None or op.audit.when(kwargs)) else None
    before = spec.snapshot(ctx, kwargs) if spec and spec.snapshot else None
    result = op.func(ctx, **kwargs)
    reply = result if isinstance(result, Reply) else Reply(result, op.status)
    if spec is not None:
        _audit(ctx, op, spec, kwargs, before, reply)
    return reply


__all__ = ["AdminContext", "Operation", "Reply", "catalog", "invoke", "open_context"]
