"""The `accounts` table: rows as dicts, JSON list columns decoded on read."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from gephyr_core.store.db import Store

JSON_COLUMNS = ("models", "discovered_models", "protected_models", "quota")
BOOL_COLUMNS = ("disabled", "proxy_disabled", "forbidden", "validation_blocked")


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for col in JSON_COLUMNS:
        raw = row.get(col)
        row[col] = json.loads(raw) if raw else ([] if col != "quota" else None)
    for col in BOOL_COLUMNS:
        row[col] = bool(row.get(col))
    return row


def _encode(fields: dict[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    for col in JSON_COLUMNS:
        if col in out and not isinstance(out[col], str) and out[col] is not None:
            out[col] = json.dumps(out[col])
    for col in BOOL_COLUMNS:
        if col in out:
            out[col] = int(bool(out[col]))
    return out


def list_accounts(store: Store) -> list[dict[str, Any]]:
    """Every account ordered by priority, then creation."""
    with store.reading() as db:
        rows = db.query("SELECT * FROM accounts ORDER BY priority, created_at, id")
        return [_decode(dict(r)) for r in rows]


def get_account(store: Store, account_id: str) -> dict[str, Any] | None:
    """One account by exact id."""
    with store.reading() as db:
        rows = list(db.query("SELECT * FROM accounts WHERE id = ?", [account_id]))
    return _decode(dict(rows[0])) if rows else None


def insert_account(db: Database, row: dict[str, Any]) -> None:
    """Insert a new account row (inside a transaction)."""
    db.table("accounts").insert(_encode(row))


def update_account(db: Database, account_id: str, fields: dict[str, Any]) -> None:
    """Update columns of one account (inside a transaction)."""
    if fields:
        db.table("accounts").update(account_id, _encode(fields))


def delete_account(db: Database, account_id: str) -> bool:
    """Delete an account and its profile versions; True when it existed."""
    cur = db.execute("DELETE FROM accounts WHERE id = ?", [account_id])
    db.execute("DELETE FROM account_profiles WHERE account_id = ?", [account_id])
    return cur.rowcount > 0


def next_priority(db: Database) -> int:
    """Priority for a new account: max + 1 (0 for the first)."""
    row = db.execute("SELECT MAX(priority) FROM accounts").fetchone()
    return 0 if row is None or row[0] is None else int(row[0]) + 1


def current_profile(store: Store, account_id: str, version: int | None) -> dict[str, Any] | None:
    """The current header profile `{version, label, headers}` of an account, or None."""
    if version is None:
        return None
    with store.reading() as db:
        rows = list(
            db.query(
                "SELECT version, label, headers FROM account_profiles WHERE account_id = ? AND version = ?",
                [account_id, version],
            )
        )
    if not rows:
        return None
    row = dict(rows[0])
    return {"version": row["version"], "label": row["label"], "headers": json.loads(row["headers"])}


def list_accounts_in(db: Database) -> list[dict[str, Any]]:
    """Every account ordered by priority, inside an open transaction."""
    rows = db.query("SELECT * FROM accounts ORDER BY priority, created_at, id")
    return [_decode(dict(r)) for r in rows]
