"""Account health check (accounts.md §8)."""

from __future__ import annotations

from typing import Any

from gephyr_core.accounts import health
from gephyr_core.accounts.probe import Verifier
from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import operation


def verifier(ctx: AdminContext) -> Verifier:
    """A verifier on the context's store; a running server's refresher keeps one refresh per account."""
    oauth = getattr(ctx.runtime, "oauth", None)
    return Verifier(ctx.store, ctx.box, ctx.settings, getattr(oauth, "refresher", None))


@operation("accounts.health_check", "POST", "/api/accounts/health-check")
def health_check(ctx: AdminContext, probe_api_keys: bool = False) -> dict[str, Any]:
    """Refresh OAuth tokens near expiry (and verify API keys) one account at a time."""
    summary = health.run(verifier(ctx), probe_api_keys)
    ctx.records_changed()
    return summary
