"""Request logs and token usage: batch inserts, queries with filters and paging, retention."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from gephyr_core.store.db import Store

SUMMARY_COLUMNS = (
    "id, timestamp, method, url, status, duration, ttfb_ms, protocol, route, model, mapped_model,"
    " provider, account_id, account_email, attempts, stream, client_ip, request_id, correlation_id,"
    " user_token_id, username, input_tokens, output_tokens, cached_tokens, thinking_tokens, error"
)
_FILTERED = ("url", "method", "model", "mapped_model", "status", "account_email", "client_ip", "username")
RETENTION_BATCH = 5000


def hour_bucket(timestamp: float) -> str:
    """The UTC hour of a unix time, as `YYYY-MM-DD HH:00`."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:00")


def write_batch(db: Database, logs: list[dict[str, Any]], usage: list[dict[str, Any]]) -> None:
    """Insert log rows and usage rows (folding each into its hourly rollup), inside a transaction."""
    if logs:
        db.table("request_logs").insert_all(logs)
    if not usage:
        return
    db.table("token_usage").insert_all(usage)
    db.conn.executemany(
        "INSERT INTO token_usage_hourly (hour_bucket, account_id, account_email, model, input_tokens,"
        " output_tokens, total_tokens, request_count) VALUES (?, ?, ?, ?, ?, ?, ?, 1)"
        " ON CONFLICT (hour_bucket, account_id, model) DO UPDATE SET"
        " account_email = excluded.account_email,"
        " input_tokens = input_tokens + excluded.input_tokens,"
        " output_tokens = output_tokens + excluded.output_tokens,"
        " total_tokens = total_tokens + excluded.total_tokens,"
        " request_count = request_count + 1",
        [
            (
                hour_bucket(u["timestamp"]),
                u["account_id"],
                u["account_email"],
                u["model"],
                u["input_tokens"],
                u["output_tokens"],
                u["total_tokens"],
            )
            for u in usage
        ],
    )


def _where(filter: str | None, errors_only: bool) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if filter:
        like = f"%{filter.lower()}%"
        clauses.append("(" + " OR ".join(f"lower(CAST({c} AS TEXT)) LIKE ?" for c in _FILTERED) + ")")
        args += [like] * len(_FILTERED)
    if errors_only:
        clauses.append("(status < 200 OR status >= 400)")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def list_logs(
    store: Store, filter: str | None, errors_only: bool, limit: int, offset: int, after_id: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """(summaries, total matching): newest first, or oldest first after a log id (following)."""
    where, args = _where(filter, errors_only)
    with store.reading() as db:
        total = db.execute(f"SELECT count(*) FROM request_logs{where}", args).fetchone()[0]
        if after_id is not None:
            cond = "rowid > coalesce((SELECT rowid FROM request_logs WHERE id = ?), 0)"
            where_after = f"{where} AND {cond}" if where else f" WHERE {cond}"
            sql = f"SELECT {SUMMARY_COLUMNS} FROM request_logs{where_after} ORDER BY rowid LIMIT ?"
            cur = db.execute(sql, [*args, after_id, limit])
        else:
            sql = f"SELECT {SUMMARY_COLUMNS} FROM request_logs{where} ORDER BY timestamp DESC, rowid DESC"
            cur = db.execute(sql + " LIMIT ? OFFSET ?", [*args, limit, offset])
        cols = [d[0] for d in cur.description]
        rows = [_summary(dict(zip(cols, r, strict=True))) for r in cur.fetchall()]
    return rows, int(total)


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    row["stream"] = bool(row.get("stream"))
    return row


def count_logs(store: Store, filter: str | None, errors_only: bool) -> int:
    where, args = _where(filter, errors_only)
    with store.reading() as db:
        return int(db.execute(f"SELECT count(*) FROM request_logs{where}", args).fetchone()[0])


def latest_id(store: Store) -> str | None:
    """The id of the most recently written log (where following starts)."""
    with store.reading() as db:
        row = db.execute("SELECT id FROM request_logs ORDER BY rowid DESC LIMIT 1").fetchone()
    return row[0] if row else None


def get_log(store: Store, log_id: str) -> dict[str, Any] | None:
    """A full record by log id."""
    with store.reading() as db:
        rows = list(db.query("SELECT * FROM request_logs WHERE id = ?", [log_id]))
    return _summary(rows[0]) if rows else None


def find_trace(store: Store, key: str) -> dict[str, Any] | None:
    """`{id, request_id, trace}` of a log by its id, else the newest with that request id."""
    with store.reading() as db:
        rows = list(
            db.query(
                "SELECT id, request_id, trace FROM request_logs WHERE id = ? OR request_id = ?"
                " ORDER BY (id = ?) DESC, rowid DESC LIMIT 1",
                [key, key, key],
            )
        )
    return rows[0] if rows else None


def clear_logs(store: Store) -> int:
    with store.transaction() as db:
        return int(db.execute("DELETE FROM request_logs").rowcount)


def proxy_stats(store: Store) -> dict[str, int]:
    """Totals over the stored logs (success = 200-399)."""
    with store.reading() as db:
        total, ok = db.execute(
            "SELECT count(*), coalesce(sum(status BETWEEN 200 AND 399), 0) FROM request_logs"
        ).fetchone()
    return {"total_requests": int(total), "success_count": int(ok), "error_count": int(total) - int(ok)}


def _delete_older(store: Store, table: str, column: str, cutoff: float) -> int:
    deleted = 0
    while True:
        with store.transaction() as db:
            if table not in db.table_names():
                return deleted
            n = db.execute(
                f"DELETE FROM {table} WHERE rowid IN"
                f" (SELECT rowid FROM {table} WHERE {column} < ? LIMIT {RETENTION_BATCH})",
                [cutoff],
            ).rowcount
        deleted += n
        if n < RETENTION_BATCH:
            return deleted


def apply_retention(store: Store, limits: Iterable[tuple[str, str, float]], now: float | None = None) -> int:
    """Delete rows older than each (table, time column, days) limit in batches, then vacuum a step."""
    now = time.time() if now is None else now
    deleted = sum(_delete_older(store, t, c, now - days * 86400) for t, c, days in limits if days > 0)
    if deleted:
        with store.reading() as db:
            db.execute("PRAGMA incremental_vacuum")
    return deleted
