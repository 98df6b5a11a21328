"""Compliance guard settings and live counters (routing.md §9) and the decision trace."""

from __future__ import annotations

from typing import Any

from tomlkit.toml_document import TOMLDocument

from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import operation
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


@operation("compliance.set", "POST", "/api/proxy/compliance")
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


@operation("logs.explain", "GET", "/api/logs/{id}/trace", runtime=True)
def explain(ctx: AdminContext, id: str) -> dict[str, Any]:
    """The decision trace of a recent request, by its x-request-id (needs a server)."""
    rt: Any = ctx.require_runtime()
    trace = rt.scheduling.traces.get(id)
    if trace is None:
        raise NotFound(f"no recent request with id {id!r}")
    return {"id": id, "request_id": id, "trace": trace}
