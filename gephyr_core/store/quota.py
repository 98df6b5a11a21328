"""Quota snapshots and verification outcomes on the `accounts` table (accounts.md §8–9)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from gephyr_core.store import accounts as table
from gephyr_core.store.db import Store

REASON_LIMIT = 800


def read_snapshot(store: Store, account_id: str) -> dict[str, Any] | None:
    """The stored QuotaData of an account (None when there is none or no such account)."""
    row = table.get_account(store, account_id)
    return row.get("quota") if row else None


def save_snapshot(
    store: Store,
    account_id: str,
    merge: Callable[[dict[str, Any] | None], dict[str, Any]],
    protect: Callable[[list[str], dict[str, Any]], list[str]] | None,
    change: bool = True,
) -> dict[str, Any]:
    """Merge a snapshot into the stored one (and update `protected_models`) in one transaction.

    `change=False` for a server's own passive snapshots: they must not make it reload.
    """
    with store.transaction(change=change) as db:
        rows = list(db.query("SELECT quota, protected_models FROM accounts WHERE id = ?", [account_id]))
        if not rows:
            raise KeyError(account_id)
        current = table._decode(dict(rows[0]))
        snapshot = merge(current.get("quota"))
        fields: dict[str, Any] = {"quota": snapshot}
        if protect is not None:
            fields["protected_models"] = protect(current.get("protected_models") or [], snapshot)
        table.update_account(db, account_id, fields)
    return snapshot


def usage_counts(store: Store, account_id: str, since: float) -> dict[str, int]:
    """`token_usage` rows of an account since a time, counted by (upstream) model."""
    with store.reading() as db:
        rows = db.execute(
            "SELECT model, COUNT(*) FROM token_usage WHERE account_id = ? AND timestamp >= ? GROUP BY model",
            [account_id, since],
        ).fetchall()
    return {str(model or ""): int(n) for model, n in rows}


def _drop_bindings(db: Any, account_id: str) -> None:
    if "session_bindings" in db.table_names():
        db.execute("DELETE FROM session_bindings WHERE account_id = ?", [account_id])


def mark_forbidden(store: Store, account_id: str, reason: str) -> None:
    """Set `forbidden` (provider refused the credential) and drop the account's bindings."""
    fields = {"forbidden": True, "forbidden_reason": reason[:REASON_LIMIT], "forbidden_at": int(time.time())}
    with store.transaction(change=True) as db:
        table.update_account(db, account_id, fields)
        _drop_bindings(db, account_id)


def mark_disabled(store: Store, account_id: str, reason: str) -> None:
    """Set `disabled` with a reason and drop the account's bindings."""
    fields = {"disabled": True, "disabled_reason": reason[:REASON_LIMIT], "disabled_at": int(time.time())}
    with store.transaction(change=True) as db:
        table.update_account(db, account_id, fields)
        _drop_bindings(db, account_id)


def mark_verified(store: Store, account_id: str) -> bool:
    """Clear `forbidden`, and `disabled` when its reason is `invalid_api_key`; True if anything changed."""
    with store.transaction(change=True) as db:
        rows = list(
            db.query("SELECT forbidden, disabled, disabled_reason FROM accounts WHERE id = ?", [account_id])
        )
        if not rows:
            return False
        row = rows[0]
        fields: dict[str, Any] = {}
        if row["forbidden"]:
            fields.update({"forbidden": False, "forbidden_reason": None, "forbidden_at": None})
        if row["disabled"] and row["disabled_reason"] == "invalid_api_key":
            fields.update({"disabled": False, "disabled_reason": None, "disabled_at": None})
        table.update_account(db, account_id, fields)
        return bool(fields)
