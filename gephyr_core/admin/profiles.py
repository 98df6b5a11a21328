"""Outbound headers: header profile operations (accounts.md §10) and the effective policy
(protocols.md §1.3a).

The operation names double as the audit actions the spec requires
(`accounts.bind_header_profile`, ...); reads are not audited.
"""

from __future__ import annotations

import re
from typing import Any

from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import Reply, operation
from gephyr_core.errors import BadRequest, Conflict, NotFound, ValidationFailed
from gephyr_core.relay.upstream import describe_policy
from gephyr_core.store import accounts as table
from gephyr_core.store import profiles as store

MAX_HEADERS = 32
MAX_VALUE = 1024
REFUSED_NAMES = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "x-goog-api-key",
        "api-key",
        "cookie",
        "host",
        "content-length",
        "content-type",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
    }
)
REFUSED_PREFIXES = ("sec-", "proxy-", "x-forwarded-")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def _problem(name: str, message: str, got: Any = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"field": f"headers.{name}" if name else "headers", "message": message}
    if got is not None:
        entry["got"] = got
    return entry


def _header_problems(name: Any, value: Any) -> list[dict[str, Any]]:
    if not isinstance(name, str) or not _TOKEN.match(name):
        return [_problem(str(name), "header name must be an HTTP token", name)]
    low = name.lower()
    if low in REFUSED_NAMES or low.startswith(REFUSED_PREFIXES):
        return [_problem(name, "this header cannot be set by a profile", name)]
    if not isinstance(value, str):
        return [_problem(name, "header value must be a string", value)]
    if len(value) > MAX_VALUE:
        return [_problem(name, f"header value must be at most {MAX_VALUE} characters", len(value))]
    if "\r" in value or "\n" in value:
        return [_problem(name, "header value must not contain CR or LF")]
    return []


def validate_headers(headers: dict[str, Any]) -> dict[str, str]:
    """Check a profile's headers (every problem at once) and return them as given."""
    problems: list[dict[str, Any]] = []
    if not headers:
        problems.append(_problem("", "give at least one header"))
    if len(headers) > MAX_HEADERS:
        problems.append(_problem("", f"at most {MAX_HEADERS} headers", len(headers)))
    seen: set[str] = set()
    for name, value in headers.items():
        problems.extend(_header_problems(name, value))
        if isinstance(name, str) and name.lower() in seen:
            problems.append(_problem(name, "header given twice (names are case-insensitive)", name))
        seen.add(str(name).lower())
    if problems:
        raise ValidationFailed(problems)
    return {str(k): str(v) for k, v in headers.items()}


def _account(ctx: AdminContext, account_id: str) -> dict[str, Any]:
    row = table.get_account(ctx.store, account_id)
    if row is None:
        raise NotFound(f"account {account_id} not found")
    return row


def _version(ctx: AdminContext, account_id: str, version: int) -> dict[str, Any]:
    found = store.get_version(ctx.store, account_id, version)
    if found is None:
        raise NotFound(f"account {account_id} has no header profile version {version}")
    return found


@operation("accounts.bind_header_profile", "POST", "/api/accounts/{id}/bind-device-profile", status=201)
def bind(ctx: AdminContext, id: str, headers: dict[str, Any], label: str | None = None) -> Reply:
    """Bind a new header profile version to an account (it becomes current)."""
    _account(ctx, id)
    checked = validate_headers(headers)
    if label is not None and len(label) > 200:
        raise BadRequest("label must be at most 200 characters")
    version = store.add_version(ctx.store, id, checked, (label or "").strip() or None)
    ctx.records_changed()
    return Reply({"success": True, "profile": _version(ctx, id, version)}, status=201)


@operation(
    "accounts.header_profile_versions",
    "GET",
    "/api/accounts/{id}/device-versions",
    alias_paths=("/api/accounts/{id}/device-profiles",),
)
def versions(ctx: AdminContext, id: str) -> dict[str, Any]:
    """The current header profile and every version, newest first."""
    _account(ctx, id)
    history = store.list_versions(ctx.store, id)
    current = next((v for v in history if v["is_current"]), None)
    return {"bound_profile": current, "history": history}


@operation("accounts.restore_header_profile", "POST", "/api/accounts/{id}/device-versions/{version}/restore")
def restore(ctx: AdminContext, id: str, version: int) -> dict[str, Any]:
    """Make an earlier header profile version current (no new version)."""
    _account(ctx, id)
    _version(ctx, id, version)
    store.set_current(ctx.store, id, version)
    ctx.records_changed()
    return _version(ctx, id, version)


@operation(
    "accounts.delete_header_profile_version",
    "DELETE",
    "/api/accounts/{id}/device-versions/{version}",
    status=204,
)
def delete_version(ctx: AdminContext, id: str, version: int) -> None:
    """Delete a header profile version that is not the current one."""
    _account(ctx, id)
    if _version(ctx, id, version)["is_current"]:
        raise Conflict(
            f"version {version} is the current profile; restore another or clear it first",
            details={"reason": "profile_version_current"},
        )
    store.delete_version(ctx.store, id, version)
    ctx.records_changed()


@operation("accounts.clear_header_profile", "DELETE", "/api/accounts/{id}/device-profile", status=204)
def clear(ctx: AdminContext, id: str) -> None:
    """Unbind an account's header profile (its history is kept)."""
    _account(ctx, id)
    store.set_current(ctx.store, id, None)
    ctx.records_changed()


@operation(
    "server.outbound_policy",
    "GET",
    "/api/proxy/outbound-policy",
    alias_paths=("/api/proxy/google/outbound-policy",),
)
def outbound_policy(ctx: AdminContext) -> dict[str, Any]:
    """The effective outbound header policy: always-set, allowlist, never-forwarded, profiles."""
    settings = ctx.settings()
    return describe_policy(
        settings.get("protocols.passthrough_headers") or {},
        bool(settings.get("debug_logging.log_outbound_headers")),
        store.count_bound(ctx.store),
    )
