"""The `ip_blacklist`, `ip_whitelist` and `ip_access_logs` tables (security.md §6)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlite_utils import Database

from gephyr_core.store.db import Store

LISTS = ("blacklist", "whitelist")


def _table(kind: str) -> str:
    if kind not in LISTS:
        raise ValueError(kind)
    return f"ip_{kind}"


def list_entries(store: Store, kind: str) -> list[dict[str, Any]]:
    """Every entry of one list, newest first."""
    with store.reading() as db:
        rows = db.query(f"SELECT * FROM {_table(kind)} ORDER BY created_at DESC, id DESC")
        return [dict(r) for r in rows]


def get_entry(db: Database, kind: str, pattern: str) -> dict[str, Any] | None:
    rows = list(db.query(f"SELECT * FROM {_table(kind)} WHERE ip_pattern = ?", [pattern]))
    return dict(rows[0]) if rows else None


def insert_entry(db: Database, kind: str, row: dict[str, Any]) -> dict[str, Any]:
    """Insert one entry and return it with its id."""
    db.table(_table(kind)).insert(row)
    entry = get_entry(db, kind, row["ip_pattern"])
    assert entry is not None
    return entry


def delete_entry(db: Database, kind: str, pattern: str) -> bool:
    return db.execute(f"DELETE FROM {_table(kind)} WHERE ip_pattern = ?", [pattern]).rowcount > 0


def clear_entries(db: Database, kind: str) -> int:
    return db.execute(f"DELETE FROM {_table(kind)}").rowcount


def purge_expired(db: Database, now: int) -> int:
    """Drop blacklist entries whose expiry has passed."""
    return db.execute(
        "DELETE FROM ip_blacklist WHERE expires_at IS NOT NULL AND expires_at <= ?", [now]
    ).rowcount


def add_hits(db: Database, hits: Mapping[str, tuple[int, int]]) -> None:
    """Add blacklist hit counts: pattern → (hits, last hit time)."""
    for pattern, (count, last) in hits.items():
        db.execute(
            "UPDATE ip_blacklist SET hit_count = hit_count + ?, last_hit_at = ? WHERE ip_pattern = ?",
            [count, last, pattern],
        )


def insert_access_logs(db: Database, rows: Iterable[dict[str, Any]]) -> None:
    db.table("ip_access_logs").insert_all(rows)


def access_logs(
    store: Store, page: int, page_size: int, search: str | None, blocked_only: bool
) -> tuple[list[dict[str, Any]], int]:
    """One page of access logs (newest first) and the total matching."""
    where, args = ["1 = 1"], []
    if search:
        where.append("instr(client_ip, ?) > 0")
        args.append(search)
    if blocked_only:
        where.append("blocked = 1")
    cond = " AND ".join(where)
    with store.reading() as db:
        total = db.execute(f"SELECT COUNT(*) FROM ip_access_logs WHERE {cond}", args).fetchone()[0]
        rows = db.query(
            f"SELECT * FROM ip_access_logs WHERE {cond} ORDER BY timestamp DESC, id DESC LIMIT ? OFFSET ?",
            [*args, page_size, (page - 1) * page_size],
        )
        logs = [{**dict(r), "blocked": bool(r["blocked"])} for r in rows]
    return logs, int(total)


def clear_access_logs(db: Database) -> int:
    return db.execute("DELETE FROM ip_access_logs").rowcount


def access_stats(store: Store, since: int) -> dict[str, Any]:
    """Totals and the top 10 IPs of the access log since `since`."""
    with store.reading() as db:
        total, unique, blocked = db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT client_ip), COALESCE(SUM(blocked), 0)"
            " FROM ip_access_logs WHERE timestamp >= ?",
            [since],
        ).fetchone()
        top = db.query(
            "SELECT client_ip, COUNT(*) AS request_count, MAX(timestamp) AS last_seen FROM ip_access_logs"
            " WHERE timestamp >= ? AND client_ip IS NOT NULL GROUP BY client_ip"
            " ORDER BY request_count DESC, last_seen DESC LIMIT 10",
            [since],
        )
        top_ips = [dict(r) for r in top]
    return {
        "total_requests": int(total),
        "unique_ips": int(unique),
        "blocked_requests": int(blocked),
        "top_ips": top_ips,
    }


def token_stats(store: Store, since: int, limit: int) -> list[dict[str, Any]]:
    """Per-IP token usage of user-token requests since `since`, with the IP's latest token user."""
    with store.reading() as db:
        rows = db.query(
            "SELECT l.ip_address AS client_ip,"
            " SUM(COALESCE(l.input_tokens, 0) + COALESCE(l.output_tokens, 0)) AS total_tokens,"
            " SUM(COALESCE(l.input_tokens, 0)) AS input_tokens,"
            " SUM(COALESCE(l.output_tokens, 0)) AS output_tokens, COUNT(*) AS request_count,"
            " (SELECT t.username FROM token_ip_bindings b JOIN user_tokens t ON t.id = b.token_id"
            "   WHERE b.ip_address = l.ip_address ORDER BY b.last_seen_at DESC LIMIT 1) AS username"
            " FROM token_usage_logs l WHERE l.request_time >= ? AND l.ip_address IS NOT NULL"
            " GROUP BY l.ip_address ORDER BY total_tokens DESC, request_count DESC LIMIT ?",
            [since, limit],
        )
        return [dict(r) for r in rows]
