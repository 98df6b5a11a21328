"""m002: user tokens, their IP bindings and usage, the IP lists and the access log (security.md)."""

from __future__ import annotations

from sqlite_utils import Database


def migrate(db: Database) -> None:
    """User tokens, token IP bindings and usage logs; IP blacklist, whitelist and access logs."""
    db.table("user_tokens").create(
        {
            "id": str,
            "token_hash": str,
            "token_hint": str,
            "username": str,
            "description": str,
            "enabled": int,
            "expires_type": str,
            "expires_at": int,
            "max_ips": int,
            "curfew_start": str,
            "curfew_end": str,
            "created_at": int,
            "updated_at": int,
            "last_used_at": int,
            "total_requests": int,
            "total_tokens_used": int,
        },
        pk="id",
        not_null={"token_hash", "token_hint", "username", "enabled", "expires_type", "max_ips"},
        defaults={"enabled": 1, "max_ips": 0, "total_requests": 0, "total_tokens_used": 0},
    )
    db.table("user_tokens").create_index(["token_hash"], unique=True)
    db.table("token_ip_bindings").create(
        {
            "id": int,
            "token_id": str,
            "ip_address": str,
            "first_seen_at": int,
            "last_seen_at": int,
            "request_count": int,
            "user_agent": str,
        },
        pk="id",
        not_null={"token_id", "ip_address"},
        defaults={"request_count": 0},
    )
    db.table("token_ip_bindings").create_index(["token_id", "ip_address"], unique=True)
    db.table("token_usage_logs").create(
        {
            "id": int,
            "token_id": str,
            "ip_address": str,
            "model": str,
            "input_tokens": int,
            "output_tokens": int,
            "request_time": int,
            "status": int,
        },
        pk="id",
    )
    db.table("token_usage_logs").create_index(["request_time"])
    db.table("token_usage_logs").create_index(["token_id"])
    db.table("ip_blacklist").create(
        {
            "id": int,
            "ip_pattern": str,
            "reason": str,
            "created_at": int,
            "expires_at": int,
            "created_by": str,
            "hit_count": int,
            "last_hit_at": int,
        },
        pk="id",
        not_null={"ip_pattern"},
        defaults={"hit_count": 0},
    )
    db.table("ip_blacklist").create_index(["ip_pattern"], unique=True)
    db.table("ip_whitelist").create(
        {"id": int, "ip_pattern": str, "description": str, "created_at": int},
        pk="id",
        not_null={"ip_pattern"},
    )
    db.table("ip_whitelist").create_index(["ip_pattern"], unique=True)
    db.table("ip_access_logs").create(
        {
            "id": int,
            "client_ip": str,
            "timestamp": int,
            "method": str,
            "path": str,
            "user_agent": str,
            "status": int,
            "duration": int,
            "api_key_hash": str,
            "blocked": int,
            "block_reason": str,
            "username": str,
        },
        pk="id",
    )
    db.table("ip_access_logs").create_index(["timestamp"])
    db.table("ip_access_logs").create_index(["client_ip"])
