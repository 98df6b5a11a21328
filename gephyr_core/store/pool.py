"""The `proxy_bindings` table: which account leaves by which proxy (pool.md §4)."""

from __future__ import annotations

import time

from gephyr_core.errors import Conflict
from gephyr_core.store.db import Store


def load(store: Store) -> dict[str, str]:
    """Every binding as {account_id: proxy_id}."""
    with store.reading() as db:
        rows = db.execute("SELECT account_id, proxy_id FROM proxy_bindings ORDER BY account_id").fetchall()
    return {str(a): str(p) for a, p in rows}


def bind(store: Store, account_id: str, proxy_id: str, max_accounts: int) -> None:
    """Bind (or rebind) an account; 409 `proxy_full` when the proxy has `max_accounts` others."""
    with store.transaction(change=True) as db:
        if max_accounts > 0:
            row = db.execute(
                "SELECT COUNT(*) FROM proxy_bindings WHERE proxy_id = ? AND account_id != ?",
                [proxy_id, account_id],
            ).fetchone()
            if row and int(row[0]) >= max_accounts:
                raise Conflict(
                    f"proxy {proxy_id!r} already has {max_accounts} bound account(s) (max_accounts)",
                    details={"reason": "proxy_full", "proxy_id": proxy_id, "max_accounts": max_accounts},
                )
        db.table("proxy_bindings").upsert(
            {"account_id": account_id, "proxy_id": proxy_id, "bound_at": int(time.time())}, pk="account_id"
        )


def unbind(store: Store, account_id: str) -> bool:
    """Remove an account's binding; True when there was one."""
    with store.transaction(change=True) as db:
        return db.execute("DELETE FROM proxy_bindings WHERE account_id = ?", [account_id]).rowcount > 0


def remove_proxy(store: Store, proxy_id: str) -> int:
    """Remove every binding to a proxy (the proxy was deleted); returns how many."""
    with store.transaction(change=True) as db:
        return db.execute("DELETE FROM proxy_bindings WHERE proxy_id = ?", [proxy_id]).rowcount
