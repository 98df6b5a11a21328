"""IP filter, access log and security config operations (security.md §6)."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from gephyr_core.admin import audit as snap
from gephyr_core.admin.config import save_patch
from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import Audit, Reply, operation
from gephyr_core.errors import BadRequest, Conflict, NotFound, StorageError, ValidationFailed
from gephyr_core.security.clientip import parse_ip
from gephyr_core.security.ipfilter import Matcher, normalise_pattern
from gephyr_core.security.state import settle
from gephyr_core.store import iplists


def _pattern(ip_pattern: str) -> str:
    pattern = normalise_pattern(ip_pattern)
    if pattern is None:
        raise ValidationFailed(
            [
                {
                    "field": "ip_pattern",
                    "message": "must be an IPv4/IPv6 address or CIDR block",
                    "got": ip_pattern,
                }
            ]
        )
    return pattern


def _add(ctx: AdminContext, kind: str, row: dict[str, Any]) -> Reply:
    try:
        with ctx.store.transaction(change=True) as db:
            if iplists.get_entry(db, kind, row["ip_pattern"]) is not None:
                raise Conflict(
                    f"{row['ip_pattern']} is already on the {kind}", details={"reason": "duplicate"}
                )
            entry = iplists.insert_entry(db, kind, row)
    except StorageError as exc:
        if isinstance(exc.__cause__, sqlite3.IntegrityError):
            raise Conflict(
                f"{row['ip_pattern']} is already on the {kind}", details={"reason": "duplicate"}
            ) from exc
        raise
    ctx.records_changed()
    return Reply(entry, 201)


def _remove(ctx: AdminContext, kind: str, ip_pattern: str) -> dict[str, bool]:
    pattern = normalise_pattern(ip_pattern) or ip_pattern.strip()
    with ctx.store.transaction(change=True) as db:
        if not iplists.delete_entry(db, kind, pattern):
            raise NotFound(f"{ip_pattern} is not on the {kind}")
    ctx.records_changed()
    return {"ok": True}


def _clear(ctx: AdminContext, kind: str) -> dict[str, int]:
    with ctx.store.transaction(change=True) as db:
        deleted = iplists.clear_entries(db, kind)
    ctx.records_changed()
    return {"deleted": deleted}


def _check(ctx: AdminContext, kind: str, ip: str) -> dict[str, Any]:
    addr = parse_ip(ip)
    if addr is None:
        raise BadRequest(f"not an IP address: {ip!r}")
    entry = Matcher.build(iplists.list_entries(ctx.store, kind)).match(addr)
    return {"result": entry is not None, "entry": dict(entry) if entry is not None else None}


@operation("security.blacklist.list", "GET", "/api/security/blacklist")
def blacklist_list(ctx: AdminContext) -> list[dict[str, Any]]:
    """List blacklist entries."""
    settle(ctx.runtime)
    return iplists.list_entries(ctx.store, "blacklist")


@operation(
    "security.blacklist.add",
    "POST",
    "/api/security/blacklist",
    status=201,
    audit=Audit("security.blacklist_add", snap.ip_list("blacklist")),
)
def blacklist_add(
    ctx: AdminContext, ip_pattern: str, reason: str | None = None, expires_at: int | None = None
) -> Reply:
    """Block an address or CIDR block, for good or until `expires_at` (Unix seconds)."""
    now = int(time.time())
    if expires_at is not None and expires_at <= now:
        raise ValidationFailed(
            [{"field": "expires_at", "message": "must be in the future", "got": expires_at}]
        )
    row = {
        "ip_pattern": _pattern(ip_pattern),
        "reason": reason or None,
        "created_at": now,
        "expires_at": expires_at,
        "created_by": ctx.actor,
        "hit_count": 0,
        "last_hit_at": None,
    }
    return _add(ctx, "blacklist", row)


@operation(
    "security.blacklist.remove",
    "DELETE",
    "/api/security/blacklist",
    audit=Audit("security.blacklist_remove", snap.ip_list("blacklist")),
)
def blacklist_remove(ctx: AdminContext, ip_pattern: str) -> dict[str, bool]:
    """Remove a blacklist entry."""
    return _remove(ctx, "blacklist", ip_pattern)


@operation(
    "security.blacklist.clear",
    "POST",
    "/api/security/blacklist/clear",
    audit=Audit("security.blacklist_clear", snap.ip_list("blacklist")),
)
def blacklist_clear(ctx: AdminContext) -> dict[str, int]:
    """Remove every blacklist entry."""
    return _clear(ctx, "blacklist")


@operation("security.blacklist.check", "GET", "/api/security/blacklist/check")
def blacklist_check(ctx: AdminContext, ip: str) -> dict[str, Any]:
    """Whether an IP matches an unexpired blacklist entry (no side effects)."""
    return _check(ctx, "blacklist", ip)


@operation("security.whitelist.list", "GET", "/api/security/whitelist")
def whitelist_list(ctx: AdminContext) -> list[dict[str, Any]]:
    """List whitelist entries."""
    return iplists.list_entries(ctx.store, "whitelist")


@operation(
    "security.whitelist.add",
    "POST",
    "/api/security/whitelist",
    status=201,
    audit=Audit("security.whitelist_add", snap.ip_list("whitelist")),
)
def whitelist_add(ctx: AdminContext, ip_pattern: str, description: str | None = None) -> Reply:
    """Allow an address or CIDR block."""
    row = {
        "ip_pattern": _pattern(ip_pattern),
        "description": description or None,
        "created_at": int(time.time()),
    }
    return _add(ctx, "whitelist", row)


@operation(
    "security.whitelist.remove",
    "DELETE",
    "/api/security/whitelist",
    audit=Audit("security.whitelist_remove", snap.ip_list("whitelist")),
)
def whitelist_remove(ctx: AdminContext, ip_pattern: str) -> dict[str, bool]:
    """Remove a whitelist entry."""
    return _remove(ctx, "whitelist", ip_pattern)


@operation(
    "security.whitelist.clear",
    "POST",
    "/api/security/whitelist/clear",
    audit=Audit("security.whitelist_clear", snap.ip_list("whitelist")),
)
def whitelist_clear(ctx: AdminContext) -> dict[str, int]:
    """Remove every whitelist entry."""
    return _clear(ctx, "whitelist")


@operation("security.whitelist.check", "GET", "/api/security/whitelist/check")
def whitelist_check(ctx: AdminContext, ip: str) -> dict[str, Any]:
    """Whether an IP matches a whitelist entry."""
    return _check(ctx, "whitelist", ip)


@operation("security.logs.list", "GET", "/api/security/logs")
def logs_list(
    ctx: AdminContext,
    page: int = 1,
    page_size: int = 50,
    search: str | None = None,
    blocked_only: bool = False,
) -> dict[str, Any]:
    """One page of the access log, newest first (search: IP substring)."""
    settle(ctx.runtime)
    if page < 1:
        raise BadRequest("page must be at least 1")
    logs, total = iplists.access_logs(ctx.store, page, max(1, min(page_size, 1000)), search, blocked_only)
    return {"logs": logs, "total": total}


@operation("security.logs.clear", "POST", "/api/security/logs/clear", audit="security.logs_clear")
def logs_clear(ctx: AdminContext) -> dict[str, int]:
    """Delete every access-log row."""
    settle(ctx.runtime)
    with ctx.store.transaction() as db:
        return {"deleted": iplists.clear_access_logs(db)}


@operation("security.stats", "GET", "/api/security/stats")
def stats(ctx: AdminContext) -> dict[str, Any]:
    """Requests, unique and blocked IPs of the last 24 hours, with the top 10 IPs."""
    settle(ctx.runtime)
    data = iplists.access_stats(ctx.store, int(time.time()) - 86400)
    black = Matcher.build(iplists.list_entries(ctx.store, "blacklist"))
    for row in data["top_ips"]:
        addr = parse_ip(str(row["client_ip"]))
        row["is_blocked"] = addr is not None and black.match(addr) is not None
    return data


@operation("security.token_stats", "GET", "/api/security/token-stats")
def token_stats(ctx: AdminContext, limit: int = 100, hours: int = 720) -> list[dict[str, Any]]:
    """Token usage per client IP of user-token requests, with the IP's latest token user."""
    settle(ctx.runtime)
    if hours < 1:
        raise BadRequest("hours must be at least 1")
    since = int(time.time()) - hours * 3600
    return iplists.token_stats(ctx.store, since, max(1, min(limit, 1000)))


def _monitor_view(settings: Any) -> dict[str, Any]:
    black = settings.get("security_monitor.blacklist") or {}
    white = settings.get("security_monitor.whitelist") or {}
    return {
        "blacklist": {
            "enabled": black.get("enabled") is True,
            "block_message": black.get("block_message", ""),
        },
        "whitelist": {
            "enabled": white.get("enabled") is True,
            "whitelist_priority": white.get("whitelist_priority", True) is not False,
        },
    }


@operation("security.config.get", "GET", "/api/security/config")
def config_get(ctx: AdminContext) -> dict[str, Any]:
    """The IP filter settings ([security_monitor])."""
    return _monitor_view(ctx.settings())


_KEYS = {"blacklist": {"enabled", "block_message"}, "whitelist": {"enabled", "whitelist_priority"}}


@operation(
    "security.config.set",
    "POST",
    "/api/security/config",
    audit=Audit("security.config", snap.config_keys(*snap.SECURITY_CONFIG)),
)
def config_set(ctx: AdminContext, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Change the IP filter settings: `{config: {...}}` or the bare object (hot-applied)."""
    posted = (body or {}).get("config", body or {})
    if not isinstance(posted, dict) or not posted:
        raise BadRequest("give config: {blacklist: {...}, whitelist: {...}}")
    patch: dict[str, Any] = {}
    for section, keys in _KEYS.items():
        part = posted.get(section)
        if part is None:
            continue
        if not isinstance(part, dict):
            raise BadRequest(f"{section} must be an object")
        patch[section] = {k: v for k, v in part.items() if k in keys}
    if not any(patch.values()):
        raise BadRequest("nothing to change: give blacklist and/or whitelist settings")
    saved = save_patch(ctx, {"security_monitor": patch})
    return {
        "ok": True,
        "saved": True,
        "runtime_apply": saved["runtime_apply"],
        "config": _monitor_view(ctx.settings()),
    }
