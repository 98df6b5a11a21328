"""m001: meta, accounts, header profiles and audit events."""

from __future__ import annotations

import os

from sqlite_utils import Database


def migrate(db: Database) -> None:
    """Meta, accounts, header profiles and audit events."""
    db.table("meta").create({"key": str, "value": str}, pk="key")
    db.table("meta").insert_all(
        [
            {"key": "kdf_salt", "value": os.urandom(16).hex()},
            {"key": "change_counter", "value": "0"},
            {"key": "current_account_id", "value": ""},
        ]
    )
    db.table("accounts").create(
        {
            "id": str,
            "provider": str,
            "label": str,
            "email": str,
            "name": str,
            "oauth_provider": str,
            "oauth_subject": str,
            "base_url": str,
            "credential_kind": str,
            "secret": str,
            "access_token": str,
            "token_expires_at": int,
            "credential_fingerprint": str,
            "credential_hint": str,
            "models": str,
            "discovered_models": str,
            "probe_model": str,
            "priority": int,
            "disabled": int,
            "disabled_reason": str,
            "disabled_at": int,
            "proxy_disabled": int,
            "proxy_disabled_reason": str,
            "proxy_disabled_at": int,
            "forbidden": int,
            "forbidden_reason": str,
            "forbidden_at": int,
            "validation_blocked": int,
            "validation_blocked_until": int,
            "validation_blocked_reason": str,
            "protected_models": str,
            "quota": str,
            "header_profile_version": int,
            "created_at": int,
            "updated_at": int,
            "last_used": int,
        },
        pk="id",
        not_null={"provider", "label", "base_url", "credential_kind", "priority"},
        defaults={
            "disabled": 0,
            "proxy_disabled": 0,
            "forbidden": 0,
            "validation_blocked": 0,
            "models": "[]",
            "discovered_models": "[]",
            "protected_models": "[]",
            "last_used": 0,
            "secret": "",
        },
    )
    db.table("accounts").create_index(["priority"])
    db.table("account_profiles").create(
        {"id": int, "account_id": str, "version": int, "label": str, "headers": str, "created_at": int},
        pk="id",
    )
    db.table("account_profiles").create_index(["account_id", "version"], unique=True)
    db.table("audit_events").create(
        {
            "id": int,
            "timestamp": int,
            "actor": str,
            "action": str,
            "target": str,
            "before": str,
            "after": str,
            "request_id": str,
            "client_ip": str,
        },
        pk="id",
    )
    db.table("audit_events").create_index(["timestamp"])
