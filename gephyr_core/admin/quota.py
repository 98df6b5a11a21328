"""Quota snapshots and the bulk refresh (accounts.md §9)."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gephyr_core.accounts.probe import Verifier
from gephyr_core.accounts.view import routable
from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.health import verifier
from gephyr_core.admin.registry import Audit, operation
from gephyr_core.errors import ConfirmationRequired, GephyrError, NotFound
from gephyr_core.relay.routes import normalise_model
from gephyr_core.store import accounts as table
from gephyr_core.store import quota as qstore

CONFIRM_HEADER = "x-gephyr-confirm-bulk-refresh"
CONFIRM_VALUES = {"1", "true", "yes", "confirm"}


@operation(
    "accounts.quota",
    "GET",
    "/api/accounts/{id}/quota",
    audit=Audit("accounts.quota_probe", when=lambda kwargs: not kwargs.get("cached")),
)
def account_quota(ctx: AdminContext, id: str, cached: bool = False) -> dict[str, Any] | None:
    """Probe an account's quota (costs one token) or show the stored snapshot with cached=true."""
    if table.get_account(ctx.store, id) is None:
        raise NotFound(f"account {id} not found")
    if cached:
        return qstore.read_snapshot(ctx.store, id)
    try:
        return verifier(ctx).probe(id)
    finally:
        ctx.records_changed()


def with_request_counts(ctx: AdminContext, data: dict[str, Any]) -> dict[str, Any]:
    """An AccountResponse whose quota models carry `request_count` (accounts.md §5)."""
    snapshot = data.get("quota")
    if not snapshot or not snapshot.get("models"):
        return data
    counts: dict[str, int] = {}
    since = float(snapshot.get("last_updated") or 0)
    for model, n in qstore.usage_counts(ctx.store, data["id"], since).items():
        name = normalise_model(model)
        counts[name] = counts.get(name, 0) + n
    models = [{**m, "request_count": counts.get(str(m.get("name")), 0)} for m in snapshot["models"]]
    return {**data, "quota": {**snapshot, "models": models}}


def stagger_ms(account_id: str, low: int, high: int) -> int:
    """A deterministic delay for an account: hash(id) mapped into [low, high] ms."""
    if high <= low:
        return max(low, 0)
    digest = int(hashlib.sha256(account_id.encode()).hexdigest()[:8], 16)
    return low + digest % (high - low + 1)


def _probe_one(v: Verifier, row: dict[str, Any], delay_ms: int) -> tuple[bool, str]:
    time.sleep(delay_ms / 1000)
    try:
        v.probe(row["id"])
    except GephyrError as exc:
        return False, f"{row['label']}: {exc.message}"
    return True, f"{row['label']}: ok"


@operation("accounts.refresh", "POST", "/api/accounts/refresh", headers={"confirm": CONFIRM_HEADER})
def bulk_refresh(ctx: AdminContext, confirm: str | None = None) -> dict[str, Any]:
    """Probe every routable account's quota (needs the confirmation header)."""
    if (confirm or "").strip().lower() not in CONFIRM_VALUES:
        raise ConfirmationRequired(f"a bulk refresh probes every account: send header {CONFIRM_HEADER}: true")
    settings = ctx.settings()
    low = int(settings.get("scheduler.refresh_stagger_min_ms") or 0)
    high = int(settings.get("scheduler.refresh_stagger_max_ms") or 0)
    workers = max(1, int(settings.get("scheduler.bulk_refresh_concurrency") or 1))
    rows = [r for r in table.list_accounts(ctx.store) if routable(r)]
    v = verifier(ctx)
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gephyr-probe") as pool:
            results = list(pool.map(lambda r: _probe_one(v, r, stagger_ms(r["id"], low, high)), rows))
    finally:
        ctx.records_changed()
    ok = sum(good for good, _ in results)
    return {"total": len(rows), "success": ok, "failed": len(rows) - ok, "details": [d for _, d in results]}
