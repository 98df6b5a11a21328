"""Account operations (accounts.md §6–7)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from gephyr_core.accounts import service
from gephyr_core.accounts.verify import filter_models, list_models
from gephyr_core.accounts.view import account_response, check_provider, normalise_base_url
from gephyr_core.admin import audit as snap
from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import Audit, Reply, operation
from gephyr_core.errors import BadRequest, CredentialInvalid, GephyrError, NotFound
from gephyr_core.store import accounts as table

if TYPE_CHECKING:
    from gephyr_core.pool.egress import Send


def _current(ctx: AdminContext) -> str:
    return ctx.store.meta("current_account_id")


def _row(ctx: AdminContext, account_id: str) -> dict[str, Any]:
    row = table.get_account(ctx.store, account_id)
    if row is None:
        raise NotFound(f"account {account_id} not found")
    return row


def view(ctx: AdminContext, row: dict[str, Any]) -> dict[str, Any]:
    """AccountResponse for one row, with its header profile and live state when served."""
    profile = table.current_profile(ctx.store, row["id"], row.get("header_profile_version"))
    return account_response(row, _current(ctx), profile)


@operation("accounts.list", "GET", "/api/accounts")
def list_all(ctx: AdminContext) -> dict[str, Any]:
    """List every account by priority."""
    current = _current(ctx)
    rows = table.list_accounts(ctx.store)
    return {"accounts": [view(ctx, r) for r in rows], "current_account_id": current or None}


@operation("accounts.current", "GET", "/api/accounts/current")
def current(ctx: AdminContext) -> dict[str, Any] | None:
    """Show the current account (null when there is none)."""
    current_id = _current(ctx)
    row = table.get_account(ctx.store, current_id) if current_id else None
    return view(ctx, row) if row else None


@operation("accounts.show", "GET", "/api/accounts/{id}")
def show(ctx: AdminContext, id: str) -> dict[str, Any]:
    """Show one account."""
    from gephyr_core.admin.quota import with_request_counts

    return with_request_counts(ctx, view(ctx, _row(ctx, id)))


@operation("accounts.add", "POST", "/api/accounts")
def add(
    ctx: AdminContext,
    provider: str | None = None,
    api_key: str | None = None,
    refresh_token: str | None = None,
    base_url: str | None = None,
    label: str | None = None,
    email: str | None = None,
    models: list[str] | None = None,
    probe_model: str | None = None,
    verify: bool = False,
) -> Reply:
    """Add (or update, matched by identity) an account from an API key."""
    if bool(api_key) == bool(refresh_token):
        raise BadRequest("give exactly one of apiKey or refreshToken")
    if refresh_token:
        return _add_oauth(ctx, provider, refresh_token, label, models)
    assert api_key is not None
    provider = check_provider(provider)
    settings = ctx.settings()
    base = normalise_base_url(base_url or settings.get(f"providers.{provider}.base_url"))
    warnings: list[str] = []
    discovered: list[str] | None = None
    if verify:
        try:
            found = list_models(
                provider,
                "api_key",
                base,
                api_key.strip(),
                settings.get("providers.anthropic.anthropic_version"),
                send=_verify_route(ctx, provider, base, email, api_key.strip()),
            )
            discovered = filter_models(found.models, models or settings.get(f"providers.{provider}.models"))
        except CredentialInvalid:
            raise
        except GephyrError as exc:
            warnings.append(f"verification_failed: {exc.message}")
    acc = service.AccountInput(
        provider=provider,
        base_url=base,
        label=label,
        email=email,
        models=models,
        probe_model=probe_model,
        discovered_models=discovered,
        credential=service.Credential("api_key", api_key.strip()),
    )
    account_id, created = service.upsert(ctx.store, ctx.box, acc)
    ctx.records_changed()
    data = view(ctx, _row(ctx, account_id))
    if warnings:
        data["warnings"] = warnings
    return Reply(data, status=201 if created else 200)


def _verify_route(ctx: AdminContext, provider: str, base: str, email: str | None, key: str) -> Send:
    """The add-time check leaves by the route of the account it updates (a new one: an unbound account's)."""
    from gephyr_core.accounts.view import fingerprint
    from gephyr_core.pool.egress import UNBOUND, for_context

    wanted = service.AccountInput(provider=provider, base_url=base, email=email)
    twin = service._match(table.list_accounts(ctx.store), wanted, fingerprint(key))
    return for_context(ctx).sender(twin["id"] if twin else UNBOUND)


def _add_oauth(
    ctx: AdminContext, provider: str | None, refresh_token: str, label: str | None, models: list[str] | None
) -> Reply:
    """Link by refresh token: refreshed and identity-verified first (accounts.md §7.1)."""
    from gephyr_core.oauth.link import Linker
    from gephyr_core.pool.egress import for_context

    if provider not in (None, "gemini"):
        raise BadRequest("a refresh token links a gemini account (omit provider or use gemini)")
    linker = Linker(ctx.store, ctx.box, ctx.settings, ctx.actor, lambda: for_context(ctx).sender(None))
    account_id, created = linker.link_refresh_token(refresh_token, label, models)
    ctx.records_changed()
    return Reply(view(ctx, _row(ctx, account_id)), status=201 if created else 200)


@operation("accounts.update", "PATCH", "/api/accounts/{id}", audit=Audit("accounts.update", snap.account))
def update(
    ctx: AdminContext,
    id: str,
    label: str | None = None,
    email: str | None = None,
    base_url: str | None = None,
    models: list[str] | None = None,
    probe_model: str | None = None,
    api_key: str | None = None,
) -> dict[str, Any]:
    """Change an account's label, email, base URL, models, probe model or API key."""
    row = _row(ctx, id)
    fields: dict[str, Any] = {}
    if label is not None:
        if not label.strip():
            raise BadRequest("label must not be empty")
        fields["label"] = label.strip()
    if email is not None:
        fields["email"] = email.strip() or None
    if base_url is not None:
        fields["base_url"] = normalise_base_url(base_url)
    if models is not None:
        fields["models"] = models
    if probe_model is not None:
        fields["probe_model"] = probe_model.strip() or None
    if api_key is not None:
        if row["credential_kind"] != "api_key":
            raise BadRequest("apiKey can only be changed on an API-key account")
        if not api_key.strip():
            raise BadRequest("apiKey must not be empty")
        cred = service.Credential("api_key", api_key.strip())
        fields.update(service._credential_fields(ctx.box, cred))
        fields.update(service._REVIVE)
    service.update_fields(ctx.store, id, fields)
    ctx.records_changed()
    return view(ctx, _row(ctx, id))


@operation(
    "accounts.switch", "POST", "/api/accounts/switch", audit=Audit("accounts.switch", snap.accounts_overview)
)
def switch(ctx: AdminContext, account_id: str) -> dict[str, Any]:
    """Make an account the current one (clears sticky bindings)."""
    _row(ctx, account_id)
    with ctx.store.transaction(change=True) as db:
        service.set_meta(db, "current_account_id", account_id)
        table.update_account(db, account_id, {"last_used": int(time.time())})
        if "session_bindings" in db.table_names():
            db.execute("DELETE FROM session_bindings")
    ctx.records_changed()
    return {"ok": True}


@operation(
    "accounts.delete",
    "DELETE",
    "/api/accounts/{id}",
    status=204,
    audit=Audit("accounts.delete", snap.account),
)
def delete(ctx: AdminContext, id: str) -> None:
    """Delete one account."""
    _row(ctx, id)
    service.delete(ctx.store, [id])
    ctx.records_changed()


@operation(
    "accounts.bulk_delete",
    "POST",
    "/api/accounts/bulk-delete",
    audit=Audit("accounts.bulk_delete", snap.accounts_overview),
)
def bulk_delete(ctx: AdminContext, account_ids: list[str]) -> dict[str, Any]:
    """Delete several accounts (unknown ids are ignored)."""
    deleted = service.delete(ctx.store, account_ids)
    ctx.records_changed()
    return {"deleted": deleted}


@operation(
    "accounts.reorder",
    "POST",
    "/api/accounts/reorder",
    audit=Audit("accounts.reorder", snap.accounts_overview),
)
def reorder(ctx: AdminContext, account_ids: list[str]) -> dict[str, Any]:
    """Put the given accounts first, in that order."""
    service.reorder(ctx.store, account_ids)
    ctx.records_changed()
    return {"ok": True}


@operation(
    "accounts.toggle_proxy",
    "POST",
    "/api/accounts/{id}/toggle-proxy",
    audit=Audit("accounts.toggle_proxy", snap.account),
)
def toggle_proxy(ctx: AdminContext, id: str, enable: bool, reason: str | None = None) -> dict[str, Any]:
    """Allow (enable) or forbid routing traffic to an account."""
    _row(ctx, id)
    if enable:
        fields: dict[str, Any] = {
            "proxy_disabled": False,
            "proxy_disabled_reason": None,
            "proxy_disabled_at": None,
        }
    else:
        fields = {
            "proxy_disabled": True,
            "proxy_disabled_reason": (reason or "")[:800] or None,
            "proxy_disabled_at": int(time.time()),
        }
    service.update_fields(ctx.store, id, fields)
    ctx.records_changed()
    return view(ctx, _row(ctx, id))


def _signout_one(
    ctx: AdminContext, row: dict[str, Any], revoke_remote: bool, delete_local: bool
) -> dict[str, Any]:
    revoked = False
    if revoke_remote and row["credential_kind"] == "oauth" and row.get("secret"):
        from gephyr_core.oauth.link import revoke_account
        from gephyr_core.pool.egress import for_context

        send = for_context(ctx).sender(row["id"])  # the account's egress route
        revoked = revoke_account(ctx.settings(), ctx.box, row, send)  # a failure aborts before any change
    service.sign_out(ctx.store, row["id"])
    if delete_local:
        service.delete(ctx.store, [row["id"]])
    return {
        "success": True,
        "account_id": row["id"],
        "revoked_remote": revoked,
        "local_cleared": True,
        "disabled": True,
        "deleted": delete_local,
    }


@operation(
    "accounts.signout", "POST", "/api/accounts/{id}/logout", audit=Audit("accounts.signout", snap.account)
)
def signout(
    ctx: AdminContext, id: str, revoke_remote: bool = True, delete_local: bool = False
) -> dict[str, Any]:
    """Sign an account out: erase its credential and disable it (optionally delete it)."""
    result = _signout_one(ctx, _row(ctx, id), revoke_remote, delete_local)
    ctx.records_changed()
    return result


@operation(
    "accounts.signout_all",
    "POST",
    "/api/accounts/logout-all",
    audit=Audit("accounts.signout_all", snap.accounts_overview),
)
def signout_all(ctx: AdminContext, revoke_remote: bool = True, delete_local: bool = False) -> dict[str, Any]:
    """Sign every account out."""
    rows = table.list_accounts(ctx.store)
    failed, done, deleted = [], 0, 0
    for row in rows:
        try:
            result = _signout_one(ctx, row, revoke_remote, delete_local)
        except GephyrError as exc:
            failed.append({"account_id": row["id"], "email": row.get("email"), "error": exc.message})
            continue
        done += 1
        deleted += int(result["deleted"])
    ctx.records_changed()
    return {
        "success": not failed,
        "total": len(rows),
        "logged_out": done,
        "deleted": deleted,
        "failed": failed,
    }
