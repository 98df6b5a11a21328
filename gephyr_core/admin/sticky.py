"""Sticky sessions, preferred account and rate-limit records (routing.md §6–8, config.md §5)."""

from __future__ import annotations

from typing import Any

from tomlkit.toml_document import TOMLDocument

from gephyr_core.admin import audit as snap
from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import Audit, Reply, operation
from gephyr_core.config.validate import normalise_mode
from gephyr_core.config.values import runtime_apply
from gephyr_core.errors import BadRequest, NotFound
from gephyr_core.store import accounts as accounts_table
from gephyr_core.store import bindings as bindings_table


def _sticky_view(ctx: AdminContext) -> dict[str, Any]:
    s = ctx.settings()
    return {
        "persist_session_bindings": s.get("routing.persist_session_bindings"),
        "scheduling": {
            "mode": normalise_mode(str(s.get("scheduling.mode"))) or "Balance",
            "max_wait_seconds": s.get("scheduling.max_wait_seconds"),
        },
    }


@operation("sticky.show", "GET", "/api/proxy/sticky")
def show(ctx: AdminContext) -> dict[str, Any]:
    """Session persistence, scheduling mode and max wait, preferred account."""
    view = _sticky_view(ctx)
    view["preferred_account_id"] = ctx.settings().get("routing.preferred_account_id") or None
    return view


def _scheduling_patch(scheduling: dict[str, Any]) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    mode = scheduling.get("mode")
    wait = scheduling.get("max_wait_seconds", scheduling.get("maxWaitSeconds"))
    if mode is not None:
        if not isinstance(mode, str) or normalise_mode(mode) is None:
            raise BadRequest(f"unknown scheduling mode {mode!r}: use Balance, CacheFirst or PerformanceFirst")
        patch["mode"] = normalise_mode(mode)
    if wait is not None:
        if isinstance(wait, bool) or not isinstance(wait, int):
            raise BadRequest("max_wait_seconds must be an integer")
        patch["max_wait_seconds"] = wait
    return patch


@operation(
    "sticky.set",
    "POST",
    "/api/proxy/sticky",
    aliases={"max_wait_seconds": ("maxWaitSeconds",)},
    audit=Audit("config.update_sticky", snap.config_keys("routing.persist_session_bindings", "scheduling")),
)
def set_sticky(
    ctx: AdminContext, persist_session_bindings: bool | None = None, scheduling: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Change persistence, scheduling mode or max wait (omitted fields keep their values)."""
    if persist_session_bindings is None and not scheduling:
        raise BadRequest("give persist_session_bindings and/or scheduling")
    patch = _scheduling_patch(scheduling or {})

    def mutate(doc: TOMLDocument) -> None:
        if persist_session_bindings is not None:
            doc["routing"]["persist_session_bindings"] = persist_session_bindings
        for key, value in patch.items():
            doc["scheduling"][key] = value

    changed, _ = ctx.config.update(mutate)
    ctx.config_changed()
    if persist_session_bindings is False:
        bindings_table.clear(ctx.store)  # turning persistence off deletes every row
    return {
        "ok": True,
        "saved": True,
        "message": "saved" if changed else "no change",
        "runtime_apply": runtime_apply(changed),
        "sticky": _sticky_view(ctx),
    }


@operation("sticky.bindings", "GET", "/api/proxy/session-bindings", runtime=True)
def bindings(ctx: AdminContext, limit: int = 1000) -> dict[str, Any]:
    """The live session bindings and the last scheduling decisions (needs a server)."""
    rt: Any = ctx.require_runtime()
    b = rt.scheduling.bindings
    view = _sticky_view(ctx)
    limit = max(0, min(limit, 100000))
    return {
        **view,
        "session_bindings_count": len(b),
        "session_bindings": b.snapshot(limit),
        "recent_events": list(b.events)[::-1],
    }


@operation("sticky.clear", "POST", "/api/proxy/session-bindings/clear", audit="session_bindings.clear")
def clear(ctx: AdminContext) -> dict[str, Any]:
    """Clear every session binding (live and persisted)."""
    cleared = bindings_table.clear(ctx.store)
    rt: Any = ctx.runtime
    if rt is not None:
        cleared = max(cleared, rt.scheduling.bindings.clear())
    return {"ok": True, "cleared": cleared}


@operation("sticky.preferred", "GET", "/api/proxy/preferred-account")
def preferred(ctx: AdminContext) -> str | None:
    """The preferred account id, or null."""
    value = ctx.settings().get("routing.preferred_account_id")
    return str(value) if value else None


@operation(
    "sticky.prefer",
    "POST",
    "/api/proxy/preferred-account",
    audit=Audit("config.set_preferred_account", snap.config_keys("routing.preferred_account_id")),
)
def prefer(ctx: AdminContext, account_id: str | None = None) -> dict[str, Any]:
    """Set (or clear with null) the account tried first."""
    if account_id and accounts_table.get_account(ctx.store, account_id) is None:
        raise NotFound(f"account {account_id} not found")
    changed, _ = ctx.config.update(
        lambda doc: doc["routing"].__setitem__("preferred_account_id", account_id or "")
    )
    ctx.config_changed()
    return {
        "ok": True,
        "saved": True,
        "preferred_account_id": account_id or None,
        "runtime_apply": runtime_apply(changed),
    }


@operation("ratelimits.list", "GET", "/api/proxy/rate-limits", runtime=True)
def rate_limits(ctx: AdminContext) -> dict[str, Any]:
    """Active rate-limit records and consecutive failures (needs a server)."""
    rt: Any = ctx.require_runtime()
    state = rt.scheduling.state
    labels = {a["id"]: a["label"] for a in rt.accounts}
    now = state.clock()
    records = [
        {
            "account_id": r.account_id,
            "label": labels.get(r.account_id),
            "model": r.model,
            "reason": r.reason,
            "reset_time": int(r.reset_time),
            "remaining_seconds": r.remaining(now),
        }
        for r in state.records()
    ]
    return {"records": records, "consecutive_failures": state.all_failures()}


@operation("ratelimits.clear", "DELETE", "/api/proxy/rate-limits", runtime=True, audit="rate_limits.clear")
def clear_rate_limits(ctx: AdminContext) -> dict[str, Any]:
    """Clear every rate-limit record (needs a server)."""
    rt: Any = ctx.require_runtime()
    return {"cleared": rt.scheduling.state.clear()}


@operation(
    "ratelimits.clear_account",
    "DELETE",
    "/api/proxy/rate-limits/{account_id}",
    runtime=True,
    audit="rate_limits.clear",
)
def clear_account(ctx: AdminContext, account_id: str) -> Reply:
    """Clear every record of one account (account-level and model-scoped)."""
    rt: Any = ctx.require_runtime()
    cleared = rt.scheduling.state.clear(account_id)
    if not cleared:
        raise NotFound(f"no rate-limit records for account {account_id}")
    return Reply({"cleared": cleared})
