"""Health check (accounts.md §8): refresh OAuth tokens near expiry, optionally verify API keys.

Candidates run one after another with a random pause between them (load smoothing), each
bounded by `startup_health.refresh_timeout_seconds`. A `stop` event ends the run between
candidates (server shutdown).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

from gephyr_core.accounts.probe import Verifier, _text
from gephyr_core.accounts.view import routable
from gephyr_core.errors import GephyrError
from gephyr_core.oauth.client import TokenError
from gephyr_core.oauth.tokens import needs_refresh
from gephyr_core.store import accounts as table
from gephyr_core.store import quota as qstore

STATUSES = ("ok", "refreshed", "disabled", "forbidden", "error")


def is_candidate(row: dict[str, Any], window: int, probe_api_keys: bool) -> bool:
    """Routable OAuth accounts near expiry; with `probe_api_keys`, API keys that a check can settle."""
    if not row.get("secret"):
        return False
    if row["credential_kind"] == "oauth":
        return routable(row) and needs_refresh(row, window)
    if not probe_api_keys:
        return False
    if row["disabled"]:
        return row.get("disabled_reason") == "invalid_api_key"
    return routable(row) or (row["forbidden"] and not row["proxy_disabled"])


def check_oauth(verifier: Verifier, row: dict[str, Any], timeout: float) -> tuple[str, str]:
    """Refresh the access token → (status, detail)."""
    try:
        verifier.refresher.refresh(row["id"], force=True, change=True, timeout=timeout)
    except TokenError as exc:
        if exc.invalid_grant:
            return "disabled", f"invalid_grant: {exc.message}"
        return "error", exc.message
    except GephyrError as exc:
        return "error", exc.message
    return "refreshed", "access token refreshed"


def check_api_key(verifier: Verifier, row: dict[str, Any], timeout: float) -> tuple[str, str]:
    """List-models with the key → (status, detail), applying the outcome to the record."""
    try:
        resp = verifier.list_models(row, timeout)
    except GephyrError as exc:
        return "error", exc.message
    if resp.status == 401:
        qstore.mark_disabled(verifier.store, row["id"], "invalid_api_key")
        return "disabled", "invalid_api_key"
    if resp.status == 403:
        reason = f"upstream_403: {_text(resp)}"
        qstore.mark_forbidden(verifier.store, row["id"], reason)
        return "forbidden", reason
    if resp.status >= 300:
        return "error", f"list-models answered HTTP {resp.status}"
    cleared = qstore.mark_verified(verifier.store, row["id"])
    return "ok", "verified; flags cleared" if cleared else "verified"


def run(
    verifier: Verifier,
    probe_api_keys: bool = False,
    *,
    sleep: Callable[[float], Any] | None = None,
    rng: random.Random | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Check every account → HealthCheckSummary."""
    settings = verifier.settings()
    window = int(settings.get("oauth.refresh_window_seconds") or 0)
    timeout = float(settings.get("startup_health.refresh_timeout_seconds") or 10)
    low = float(settings.get("startup_health.delay_min_seconds") or 0)
    high = max(low, float(settings.get("startup_health.delay_max_seconds") or 0))
    rng = rng or random.Random()
    stop = stop or threading.Event()
    wait = sleep or stop.wait
    rows = table.list_accounts(verifier.store)
    candidates = [r for r in rows if is_candidate(r, window, probe_api_keys)]
    results: dict[str, tuple[str, str]] = {}
    for n, row in enumerate(candidates):
        if n and high > 0:
            wait(rng.uniform(low, high))
        if stop.is_set():
            break
        check = check_oauth if row["credential_kind"] == "oauth" else check_api_key
        results[row["id"]] = check(verifier, row, timeout)
        if on_progress is not None:
            on_progress(n + 1, len(candidates))
    return summarise(rows, results)


def summarise(rows: list[dict[str, Any]], results: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """HealthCheckSummary: non-candidates are reported `ok` and counted in `skipped`."""
    entries = []
    counts = dict.fromkeys(STATUSES, 0)
    for row in rows:
        status, detail = results.get(row["id"], ("ok", "skipped"))
        if row["id"] in results:
            counts[status] += 1
        entries.append(
            {
                "account_id": row["id"],
                "label": row["label"],
                "email": row.get("email"),
                "status": status,
                "detail": detail,
            }
        )
    return {
        "total": len(rows),
        "skipped": len(rows) - len(results),
        "refreshed": counts["refreshed"],
        "disabled": counts["disabled"],
        "forbidden": counts["forbidden"],
        "network_errors": counts["error"],
        "accounts": entries,
    }
