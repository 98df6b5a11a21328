"""User token operations (security.md §5): only a hash is stored; the value is shown once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from gephyr_core.admin import audit as snap
from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import Audit, Reply, operation
from gephyr_core.errors import NotFound, ValidationFailed
from gephyr_core.security import tokens as tok
from gephyr_core.security.state import settle
from gephyr_core.store import tokens as table

_EDITABLE = ("username", "description", "enabled", "max_ips", "curfew_start", "curfew_end")
_CLEARABLE = ("description", "curfew_start", "curfew_end")


def _problem(field: str, message: str, got: Any = None) -> dict[str, Any]:
    item: dict[str, Any] = {"field": field, "message": message}
    if got is not None:
        item["got"] = got
    return item


def _username(v: Any) -> bool:
    return isinstance(v, str) and 1 <= len(v.strip()) <= 64


def _cap(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 100000


def _hhmm(v: Any) -> bool:
    return v is None or (isinstance(v, str) and tok.is_hhmm(v))


_RULES: dict[str, tuple[Any, str]] = {
    "username": (_username, "must be 1-64 characters"),
    "description": (lambda v: isinstance(v, str | None), "must be a string or null"),
    "enabled": (lambda v: isinstance(v, bool), "must be a boolean"),
    "max_ips": (_cap, "must be a whole number from 0 (unlimited)"),
    "curfew_start": (_hhmm, "must be a 24 h time HH:MM"),
    "curfew_end": (_hhmm, "must be a 24 h time HH:MM"),
    "expires_type": (lambda v: v in tok.EXPIRY_DAYS, "must be one of day, week, month, never"),
}


def _check(fields: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Problems with token fields (each present key is checked)."""
    problems = []
    for key, value in fields.items():
        ok, message = _RULES[key]
        if not ok(value):
            problems.append(_problem(key, message, value if isinstance(value, str | int) else None))
    return problems


def _check_pair(start: Any, end: Any) -> list[dict[str, Any]]:
    if bool(start) != bool(end):
        return [_problem("curfew", "give both curfew_start and curfew_end, or neither")]
    return []


def _settle(ctx: AdminContext) -> None:
    settle(ctx.runtime)


def _found(ctx: AdminContext, token_id: str) -> dict[str, Any]:
    row = table.get_token(ctx.store, token_id)
    if row is None:
        raise NotFound(f"user token {token_id} not found")
    return row


@operation("tokens.list", "GET", "/api/user-tokens")
def list_tokens(ctx: AdminContext) -> list[dict[str, Any]]:
    """List user tokens (hints only, never the values)."""
    _settle(ctx)
    return table.list_tokens(ctx.store)


@operation("tokens.summary", "GET", "/api/user-tokens/summary")
def summary(ctx: AdminContext) -> dict[str, int]:
    """Token, user and today's request counts."""
    _settle(ctx)
    now = int(time.time())
    return table.summary(ctx.store, now, now - now % 86400)


@operation("tokens.create", "POST", "/api/user-tokens", status=201, audit="user_tokens.create")
def create(
    ctx: AdminContext,
    username: str,
    expires_type: str = "never",
    description: str | None = None,
    max_ips: int = 0,
    curfew_start: str | None = None,
    curfew_end: str | None = None,
) -> Reply:
    """Create a user token; the response carries the full value, shown this once."""
    fields = {
        "username": username,
        "expires_type": expires_type,
        "description": description,
        "max_ips": max_ips,
        "curfew_start": curfew_start,
        "curfew_end": curfew_end,
    }
    problems = _check(fields) or _check_pair(curfew_start, curfew_end)
    if problems:
        raise ValidationFailed(problems)
    value = tok.new_token()
    now = int(time.time())
    token_id = str(uuid.uuid4())
    row = {
        **fields,
        "username": username.strip(),
        "id": token_id,
        "token_hash": tok.token_hash(value),
        "token_hint": tok.token_hint(value),
        "enabled": 1,
        "expires_at": tok.expires_at(expires_type, now),
        "created_at": now,
        "updated_at": now,
        "last_used_at": None,
        "total_requests": 0,
        "total_tokens_used": 0,
    }
    with ctx.store.transaction(change=True) as db:
        table.insert_token(db, row)
    ctx.records_changed()
    return Reply({**_found(ctx, token_id), "token": value}, 201)


@operation(
    "tokens.update", "PATCH", "/api/user-tokens/{id}", audit=Audit("user_tokens.update", snap.user_token)
)
def update(ctx: AdminContext, id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Change a token's username, description, enabled flag, IP cap or curfew (null clears)."""
    posted = {camel_to_snake(k): v for k, v in (body or {}).items()}
    fields = {k: posted[k] for k in _EDITABLE if k in posted}
    nulls = [k for k, v in fields.items() if v is None and k not in _CLEARABLE]
    problems = [_problem(k, "must not be null") for k in nulls] + _check(
        {k: v for k, v in fields.items() if v is not None or k in _CLEARABLE}
    )
    current = _found(ctx, id)
    start = fields.get("curfew_start", current["curfew_start"])
    end = fields.get("curfew_end", current["curfew_end"])
    problems = problems or _check_pair(start, end)
    if problems:
        raise ValidationFailed(problems)
    if "enabled" in fields:
        fields["enabled"] = int(fields["enabled"])
    if isinstance(fields.get("username"), str):
        fields["username"] = fields["username"].strip()
    with ctx.store.transaction(change=True) as db:
        table.update_token(db, id, {**fields, "updated_at": int(time.time())})
    ctx.records_changed()
    return _found(ctx, id)


def camel_to_snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


@operation(
    "tokens.renew", "POST", "/api/user-tokens/{id}/renew", audit=Audit("user_tokens.renew", snap.user_token)
)
def renew(ctx: AdminContext, id: str, expires_type: str) -> dict[str, Any]:
    """Set a new expiry counted from now and enable the token."""
    problems = _check({"expires_type": expires_type})
    if problems:
        raise ValidationFailed(problems)
    now = int(time.time())
    fields = {"expires_type": expires_type, "expires_at": tok.expires_at(expires_type, now), "enabled": 1}
    with ctx.store.transaction(change=True) as db:
        if not table.update_token(db, id, {**fields, "updated_at": now}):
            raise NotFound(f"user token {id} not found")
    ctx.records_changed()
    return _found(ctx, id)


@operation(
    "tokens.delete",
    "DELETE",
    "/api/user-tokens/{id}",
    status=204,
    audit=Audit("user_tokens.delete", snap.user_token),
)
def delete(ctx: AdminContext, id: str) -> Reply:
    """Delete a token and its IP bindings (its usage rows stay)."""
    _settle(ctx)
    with ctx.store.transaction(change=True) as db:
        if not table.delete_token(db, id):
            raise NotFound(f"user token {id} not found")
    ctx.records_changed()
    return Reply(None, 204)


@operation("tokens.ips", "GET", "/api/user-tokens/{id}/ips")
def ips(ctx: AdminContext, id: str) -> list[dict[str, Any]]:
    """The IP addresses a token is bound to."""
    _settle(ctx)
    _found(ctx, id)
    return table.list_bindings(ctx.store, id)


@operation(
    "tokens.clear_ips",
    "DELETE",
    "/api/user-tokens/{id}/ips",
    audit=Audit("user_tokens.clear_ips", snap.user_token),
)
def clear_ips(ctx: AdminContext, id: str) -> dict[str, int]:
    """Forget a token's IP bindings (frees its IP cap)."""
    _settle(ctx)
    with ctx.store.transaction(change=True) as db:
        if not table.update_token(db, id, {}):
            raise NotFound(f"user token {id} not found")
        cleared = table.clear_bindings(db, id)
    ctx.records_changed()
    return {"cleared": cleared}
