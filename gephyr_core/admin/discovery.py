"""Model discovery (accounts.md §6): an account's list-models result feeds the catalogue."""

from __future__ import annotations

from typing import Any

from gephyr_core.accounts import service
from gephyr_core.accounts.verify import filter_models, list_models
from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import operation
from gephyr_core.errors import BadRequest, NotFound
from gephyr_core.pool.egress import for_context
from gephyr_core.store import accounts as table


def _secret(ctx: AdminContext, row: dict[str, Any]) -> tuple[str, str]:
    """(credential kind, usable secret) for an upstream call of this account."""
    if row["credential_kind"] == "oauth":
        if not row.get("access_token"):
            raise BadRequest(f"account {row['id']} has no access token yet; refresh it first")
        return "oauth", ctx.box.decrypt("account.access_token", str(row["access_token"]))
    if not row.get("secret"):
        raise BadRequest(f"account {row['id']} is signed out; add its API key again")
    return "api_key", ctx.box.decrypt("account.secret", str(row["secret"]))


@operation("accounts.fetch_models", "POST", "/api/accounts/{id}/models/fetch", audit="accounts.models_fetch")
def fetch_models(ctx: AdminContext, id: str) -> dict[str, Any]:
    """Fetch the provider's model list for an account and store it for the catalogue."""
    row = table.get_account(ctx.store, id)
    if row is None:
        raise NotFound(f"account {id} not found")
    settings = ctx.settings()
    kind, secret = _secret(ctx, row)
    profile = table.current_profile(ctx.store, id, row.get("header_profile_version"))
    found = list_models(
        row["provider"],
        kind,
        row["base_url"],
        secret,
        str(settings.get("providers.anthropic.anthropic_version")),
        timeout=max(5.0, float(settings.get("server.request_timeout"))),
        profile=profile["headers"] if profile else None,
        send=for_context(ctx).sender(id),  # the account's egress route
    )
    patterns = row["models"] or settings.get(f"providers.{row['provider']}.models")
    models = sorted(dict.fromkeys(filter_models(found.models, patterns)))
    service.update_fields(ctx.store, id, {"discovered_models": models})
    ctx.records_changed()
    return {"models": models}
