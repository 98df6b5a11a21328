"""Compliance guard settings and live counters (routing.md §9) and the decision trace."""

from __future__ import annotations

from typing import Any

from tomlkit.toml_document import TOMLDocument

from gephyr_core.admin import audit as snap
from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import Audit, operation
from gephyr_core.config.values import runtime_apply
from gephyr_core.errors import BadRequest, NotFound

KEYS = {
    "enabled": bool,
    "max_global_requests_per_minute": int,
    "max_account_requests_per_minute": int,
    "max_account_concurrency": int,
    "risk_cooldown_seconds": int,
    "cooldown_on_http_429": bool,
    "max_retry_attempts": int,
}
_CAMEL = {"".join(p if i == 0 else p.title() for i, p in enumerate(k.split("_"))): k for k in KEYS}


def _config(ctx: AdminContext) -> dict[str, Any]:
    s = ctx.settings()
    return {k: s.get(f"compliance.{k}") for k in KEYS}


@operation("compliance.show", "GET", "/api/proxy/compliance", runtime=True)
def show(ctx: AdminContext) -> dict[str, Any]:
    """The guard's settings and live counters (needs a server)."""
    rt: Any = ctx.require_runtime()
    return {"config": _config(ctx), **rt.scheduling.guard.snapshot()}


@operation(
    "compliance.set",
    "POST",
    "/api/proxy/compliance",
    audit=Audit("config.update_compliance", snap.config_keys("compliance")),
)
def set_compliance(ctx: AdminContext, body: Any) -> dict[str, Any]:
    """Change any subset of the guard's settings (validated, saved, applied at once)."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    patch: dict[str, Any] = {}
    for key, value in body.items():
        name = _CAMEL.get(key, key)
        if name not in KEYS:
            continue
        kind = KEYS[name]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise BadRequest(f"{name} must be an integer")
        if kind is bool and not isinstance(value, bool):
            raise BadRequest(f"{name} must be a boolean")
        patch[name] = value
    if not patch:
        raise BadRequest(f"give at least one of {', '.join(KEYS)}")

    def mutate(doc: TOMLDocument) -> None:
        for key, value in patch.items():
            doc["compliance"][key] = value

    changed, _ = ctx.config.update(mutate)
    ctx.config_changed()
    return {
        "ok": True,
        "saved": True,
        "message": "saved" if changed else "no change",
        "runtime_apply": runtime_apply(changed),
        "compliance": _config(ctx),
    }


@operation("logs.explain", "GET", "/api/logs/{id}/trace")
def explain(ctx: AdminContext, id: str) -> dict[str, Any]:
    """The decision trace of a request, by log id or x-request-id (recent ones from memory, else the log)."""
    import json

    from gephyr_core.monitor.writer import settle
    from gephyr_core.store.logs import find_trace

    rt: Any = ctx.runtime
    trace = rt.scheduling.traces.get(id) if rt is not None else None
    if trace is not None:
        return {"id": id, "request_id": id, "trace": trace}
    settle(rt)
    found = find_trace(ctx.store, id)
    if found is None or found["trace"] is None:
        raise NotFound(f"no request with id {id!r} has a decision trace")
    return {"id": found["id"], "request_id": found["request_id"], "trace": json.loads(found["trace"])}
