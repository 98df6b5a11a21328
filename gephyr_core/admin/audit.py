"""Audit events (observability.md §7): the stored rows, newest first, and the snapshots that
operations declare (`@operation(..., audit=Audit(action, snapshot=...))`) so that the one
dispatcher (`admin.invoke`) can record what a change did, before and after, without secrets.

A snapshot is `fn(ctx, kwargs) -> summary`; it runs before and after the operation, reads
only, and answers None for a record that does not exist (the operation then reports that).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import Reply, operation
from gephyr_core.config.keys import ENCRYPTED_KEYS, get_path
from gephyr_core.errors import BadRequest
from gephyr_core.security.state import settle
from gephyr_core.store import accounts as accounts_table
from gephyr_core.store import iplists
from gephyr_core.store import pool as pool_table
from gephyr_core.store import tokens as tokens_table

Snapshot = Callable[[Any, Mapping[str, Any]], Any]

# The config.save summary of observability.md §7 (secrets become `<name>_set` flags).
CONFIG_SUMMARY = (
    "server.port",
    "server.allow_lan_access",
    "server.auto_start",
    "server.request_timeout",
    "auth.mode",
    "auth.api_key",
    "auth.admin_password",
    "admin.enabled",
    "monitor.enabled",
    "metrics.enabled",
    "pool.enabled",
    "security_monitor.blacklist.enabled",
    "security_monitor.whitelist.enabled",
    "routing.persist_session_bindings",
    "routing.preferred_account_id",
    "scheduling",
    "compliance",
    "upstream_proxy.enabled",
    "debug_logging.enabled",
)
POOL_RUNTIME = (
    "pool.enabled",
    "pool.auto_failover",
    "pool.allow_shared_proxy_fallback",
    "pool.require_proxy_for_account_requests",
    "pool.health_check_interval",
    "pool.health_check_url",
)
SECURITY_CONFIG = ("security_monitor.blacklist", "security_monitor.whitelist")
_SECRET_CONFIG = {"auth.api_key", "auth.admin_password", *ENCRYPTED_KEYS}
_ACCOUNT_FIELDS = (
    "label",
    "email",
    "provider",
    "credential_kind",
    "base_url",
    "models",
    "priority",
    "disabled",
    "disabled_reason",
    "proxy_disabled",
    "proxy_disabled_reason",
    "forbidden",
    "validation_blocked",
)


def _get(doc: Mapping[str, Any], path: str) -> Any:
    try:
        return get_path(doc, path)
    except KeyError:
        return None


def config_keys(*paths: str) -> Snapshot:
    """A snapshot of some config.toml values (a secret is shown only as `<key>_set`)."""

    def snapshot(ctx: AdminContext, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        doc = ctx.config.persisted()
        out: dict[str, Any] = {}
        for path in paths:
            value = _get(doc, path)
            if path in _SECRET_CONFIG:
                out[f"{path}_set"] = bool(value)
            else:
                out[path] = value
        return out

    return snapshot


def config_summary(ctx: AdminContext, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The `config.save` summary: the §7 settings plus the mapping's size."""
    out: dict[str, Any] = config_keys(*CONFIG_SUMMARY)(ctx, kwargs)
    out["mapping_entries"] = len(mapping_entries(ctx, kwargs))
    return out


def mapping_entries(ctx: AdminContext, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    mapping = _get(ctx.config.persisted(), "routing.mapping")
    return dict(mapping) if isinstance(mapping, Mapping) else {}


def mapping_changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[Any, Any]:
    """Counts plus the added / removed / updated model keys (observability.md §7)."""
    return {"count": len(before)}, {
        "count": len(after),
        "added": sorted(k for k in after if k not in before),
        "removed": sorted(k for k in before if k not in after),
        "updated": sorted(k for k in after if k in before and before[k] != after[k]),
    }


def account(ctx: AdminContext, kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
    """The named account's non-secret fields (`id` or `account_id`)."""
    account_id = kwargs.get("id") or kwargs.get("account_id")
    row = accounts_table.get_account(ctx.store, str(account_id)) if account_id else None
    return None if row is None else {k: row.get(k) for k in _ACCOUNT_FIELDS}


def accounts_overview(ctx: AdminContext, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Account ids in priority order, how many are routable, and the current one."""
    rows = accounts_table.list_accounts(ctx.store)
    return {
        "count": len(rows),
        "order": [r["id"] for r in rows],
        "disabled": sum(1 for r in rows if r["disabled"] or r["proxy_disabled"]),
        "current_account_id": ctx.store.meta("current_account_id") or None,
    }


def user_token(ctx: AdminContext, kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
    """A user token's fields (only its hash is ever stored, and that is left out)."""
    return tokens_table.get_token(ctx.store, str(kwargs["id"])) if kwargs.get("id") else None


def ip_list(kind: str) -> Snapshot:
    """The size of an IP list and whether the named pattern is on it."""

    def snapshot(ctx: AdminContext, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        entries = iplists.list_entries(ctx.store, kind)
        out: dict[str, Any] = {"count": len(entries)}
        if kwargs.get("ip_pattern"):
            out["listed"] = any(e.get("ip_pattern") == kwargs["ip_pattern"] for e in entries)
        return out

    return snapshot


def proxy_binding(ctx: AdminContext, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The proxy an account is bound to (None when unbound)."""
    return {"proxy_id": pool_table.load(ctx.store).get(str(kwargs.get("account_id")))}


def proxies(ctx: AdminContext, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The pool's proxy ids and the named one's entry (credentials are scrubbed by the writer)."""
    entries = [p for p in _get(ctx.config.persisted(), "pool.proxies") or [] if isinstance(p, Mapping)]
    out: dict[str, Any] = {"ids": [p.get("id") for p in entries]}
    if kwargs.get("id"):
        out["proxy"] = next((dict(p) for p in entries if p.get("id") == kwargs["id"]), None)
    return out


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
