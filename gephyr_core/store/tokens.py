"""The `user_tokens`, `token_ip_bindings` and `token_usage_logs` tables (security.md §5)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from gephyr_core.store.db import Store

_LIST = """
SELECT t.*, (SELECT COUNT(*) FROM token_ip_bindings b WHERE b.token_id = t.id) AS bound_ips
FROM user_tokens t
"""


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """A token row as shown: no hash, `enabled` as a boolean."""
    out = {k: v for k, v in row.items() if k != "token_hash"}
    out["enabled"] = bool(out.get("enabled"))
    return out


def list_tokens(store: Store) -> list[dict[str, Any]]:
    """Every token (newest first), without its hash, with its bound IP count."""
    with store.reading() as db:
        rows = db.query(_LIST + " ORDER BY t.created_at DESC, t.rowid DESC")
        return [_public(dict(r)) for r in rows]


def get_token(store: Store, token_id: str) -> dict[str, Any] | None:
    """One token by id (no hash), or None."""
    with store.reading() as db:
        rows = list(db.query(_LIST + " WHERE t.id = ?", [token_id]))
    return _public(dict(rows[0])) if rows else None


def insert_token(db: Database, row: dict[str, Any]) -> None:
    db.table("user_tokens").insert(row)


def update_token(db: Database, token_id: str, fields: dict[str, Any]) -> bool:
    """Update columns of one token; False when it does not exist."""
    if not db.execute("SELECT 1 FROM user_tokens WHERE id = ?", [token_id]).fetchone():
        return False
    if fields:
        db.table("user_tokens").update(token_id, fields)
    return True


def delete_token(db: Database, token_id: str) -> bool:
    """Delete a token and its IP bindings (its usage rows stay); True when it existed."""
    cur = db.execute("DELETE FROM user_tokens WHERE id = ?", [token_id])
    db.execute("DELETE FROM token_ip_bindings WHERE token_id = ?", [token_id])
    return cur.rowcount > 0


def list_bindings(store: Store, token_id: str) -> list[dict[str, Any]]:
    """The IP bindings of one token, most recently seen first."""
    with store.reading() as db:
        rows = db.query(
            "SELECT * FROM token_ip_bindings WHERE token_id = ? ORDER BY last_seen_at DESC, id",
            [token_id],
        )
        return [dict(r) for r in rows]


def clear_bindings(db: Database, token_id: str) -> int:
    return db.execute("DELETE FROM token_ip_bindings WHERE token_id = ?", [token_id]).rowcount


def summary(store: Store, now: int, since: int) -> dict[str, int]:
    """Counts for `tokens summary`: `since` is the start of the UTC day."""
    with store.reading() as db:
        total, active, users = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(enabled = 1 AND (expires_at IS NULL OR expires_at > ?)), 0),"
            " COUNT(DISTINCT username) FROM user_tokens",
            [now],
        ).fetchone()
        today = db.execute(
            "SELECT COUNT(*) FROM token_usage_logs WHERE request_time >= ?", [since]
        ).fetchone()[0]
    return {
        "total_tokens": int(total),
        "active_tokens": int(active),
        "total_users": int(users),
        "today_requests": int(today),
    }


def load_all(store: Store) -> tuple[list[dict[str, Any]], dict[str, set[str]]]:
    """Every token row (with hash) and the bound IPs per token id, for the server's cache."""
    with store.reading() as db:
        tokens = [dict(r) for r in db.query("SELECT * FROM user_tokens")]
        bound: dict[str, set[str]] = {}
        for r in db.query("SELECT token_id, ip_address FROM token_ip_bindings"):
            bound.setdefault(r["token_id"], set()).add(r["ip_address"])
    return tokens, bound


@dataclass(frozen=True)
class Usage:
    """One request authenticated by a user token, as the writer records it."""

    token_id: str
    ip: str | None
    model: str | None
    input_tokens: int
    output_tokens: int
    time: int
    status: int
    user_agent: str | None


def record_usage(db: Database, items: Iterable[Usage]) -> None:
    """Counters, IP binding upserts and one usage row per item (inside a transaction)."""
    for u in items:
        db.execute(
            "UPDATE user_tokens SET total_requests = total_requests + 1,"
            " total_tokens_used = total_tokens_used + ?, last_used_at = ? WHERE id = ?",
            [u.input_tokens + u.output_tokens, u.time, u.token_id],
        )
        if u.ip is not None:
            db.execute(
                "INSERT INTO token_ip_bindings"
                " (token_id, ip_address, first_seen_at, last_seen_at, request_count, user_agent)"
                " SELECT ?, ?, ?, ?, 1, ? WHERE EXISTS (SELECT 1 FROM user_tokens WHERE id = ?)"
                " ON CONFLICT(token_id, ip_address) DO UPDATE SET last_seen_at = excluded.last_seen_at,"
                " request_count = request_count + 1, user_agent = excluded.user_agent",
                [u.token_id, u.ip, u.time, u.time, u.user_agent, u.token_id],
            )
        db.execute(
            "INSERT INTO token_usage_logs"
            " (token_id, ip_address, model, input_tokens, output_tokens, request_time, status)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [u.token_id, u.ip, u.model, u.input_tokens, u.output_tokens, u.time, u.status],
        )
