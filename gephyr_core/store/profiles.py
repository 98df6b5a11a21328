"""The `account_profiles` table: versioned outbound header profiles (accounts.md §10).

Versions are numbered from 1 per account and never renumbered; the account row's
`header_profile_version` names the current one (null = no profile bound). Every write
bumps the change counter so a running server reloads the headers within a second.
"""

from __future__ import annotations

import json
import time
from typing import Any

from gephyr_core.store.db import Store

_SEQ_PREFIX = "header_profile_seq:"


def _version(row: dict[str, Any], current: int | None) -> dict[str, Any]:
    return {
        "id": row["id"],
        "version": row["version"],
        "label": row["label"],
        "headers": json.loads(row["headers"] or "{}"),
        "created_at": row["created_at"],
        "is_current": current is not None and row["version"] == current,
    }


def _current_version(store: Store, account_id: str) -> int | None:
    with store.reading() as db:
        row = db.execute("SELECT header_profile_version FROM accounts WHERE id = ?", [account_id]).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def list_versions(store: Store, account_id: str) -> list[dict[str, Any]]:
    """Every ProfileVersion of an account, newest first."""
    current = _current_version(store, account_id)
    with store.reading() as db:
        rows = db.query(
            "SELECT * FROM account_profiles WHERE account_id = ? ORDER BY version DESC", [account_id]
        )
        return [_version(dict(r), current) for r in rows]


def get_version(store: Store, account_id: str, version: int) -> dict[str, Any] | None:
    """One ProfileVersion, or None."""
    current = _current_version(store, account_id)
    with store.reading() as db:
        rows = list(
            db.query(
                "SELECT * FROM account_profiles WHERE account_id = ? AND version = ?", [account_id, version]
            )
        )
    return _version(dict(rows[0]), current) if rows else None


def add_version(store: Store, account_id: str, headers: dict[str, str], label: str | None) -> int:
    """Store a new version and make it current; returns its number."""
    with store.transaction(change=True) as db:
        version = _next_number(db, account_id)
        db.table("account_profiles").insert(
            {
                "account_id": account_id,
                "version": version,
                "label": label,
                "headers": json.dumps(headers),
                "created_at": int(time.time()),
            }
        )
        _set_current(db, account_id, version)
    return version


def _next_number(db: Any, account_id: str) -> int:
    # The last issued number is kept in meta, so a deleted version's number is never reused.
    key = f"{_SEQ_PREFIX}{account_id}"
    seq = db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    top = db.execute(
        "SELECT MAX(version) FROM account_profiles WHERE account_id = ?", [account_id]
    ).fetchone()
    version = max(int(seq[0]) if seq else 0, int(top[0] or 0) if top else 0) + 1
    db.table("meta").upsert({"key": key, "value": str(version)}, pk="key")
    return version


def _set_current(db: Any, account_id: str, version: int | None) -> None:
    db.execute(
        "UPDATE accounts SET header_profile_version = ?, updated_at = ? WHERE id = ?",
        [version, int(time.time()), account_id],
    )


def set_current(store: Store, account_id: str, version: int | None) -> None:
    """Make a version current (None unbinds; the history is kept)."""
    with store.transaction(change=True) as db:
        _set_current(db, account_id, version)


def delete_version(store: Store, account_id: str, version: int) -> bool:
    """Delete one version; True when it existed."""
    with store.transaction(change=True) as db:
        cur = db.execute(
            "DELETE FROM account_profiles WHERE account_id = ? AND version = ?", [account_id, version]
        )
    return cur.rowcount > 0


def current_headers(store: Store) -> dict[str, dict[str, str]]:
    """The current profile headers of every account that has one, by account id."""
    with store.reading() as db:
        rows = db.execute(
            "SELECT p.account_id, p.headers FROM account_profiles p JOIN accounts a"
            " ON a.id = p.account_id AND a.header_profile_version = p.version"
        ).fetchall()
    return {str(account_id): json.loads(headers or "{}") for account_id, headers in rows}


def count_bound(store: Store) -> int:
    """How many accounts have a current header profile."""
    with store.reading() as db:
        row = db.execute("SELECT COUNT(*) FROM accounts WHERE header_profile_version IS NOT NULL").fetchone()
    return int(row[0]) if row else 0
