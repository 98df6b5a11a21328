"""m007: request logs, raw token usage and its hourly rollup (observability.md §2-3)."""

from __future__ import annotations

from sqlite_utils import Database


def migrate(db: Database) -> None:
    db.table("request_logs").create(
        {
            "id": str,
            "timestamp": float,
            "method": str,
            "url": str,
            "status": int,
            "duration": int,
            "ttfb_ms": int,
            "protocol": str,
            "route": str,
            "model": str,
            "mapped_model": str,
            "provider": str,
            "account_id": str,
            "account_email": str,
            "attempts": int,
            "stream": int,
            "client_ip": str,
            "request_id": str,
            "correlation_id": str,
            "user_token_id": str,
            "username": str,
            "input_tokens": int,
            "output_tokens": int,
            "cached_tokens": int,
            "thinking_tokens": int,
            "error": str,
            "trace": str,
            "request_body": str,
            "response_body": str,
        },
        pk="id",
    )
    db.table("request_logs").create_index(["timestamp"])
    db.table("request_logs").create_index(["request_id"])
    db.table("token_usage").create(
        {
            "id": int,
            "timestamp": float,
            "account_id": str,
            "account_email": str,
            "provider": str,
            "model": str,
            "input_tokens": int,
            "output_tokens": int,
            "total_tokens": int,
            "user_token_id": str,
        },
        pk="id",
    )
    db.table("token_usage").create_index(["timestamp"])
    db.table("token_usage_hourly").create(
        {
            "hour_bucket": str,
            "account_id": str,
            "account_email": str,
            "model": str,
            "input_tokens": int,
            "output_tokens": int,
            "total_tokens": int,
            "request_count": int,
        },
        pk=("hour_bucket", "account_id", "model"),
    )
