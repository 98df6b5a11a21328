"""m005: persisted sticky session bindings (routing.md §8)."""

from __future__ import annotations

from sqlite_utils import Database


def migrate(db: Database) -> None:
    db.table("session_bindings").create(
        {"session_id": str, "model": str, "account_id": str, "created_at": int, "last_used_at": int},
        pk=("session_id", "model"),
    )
    db.table("session_bindings").create_index(["account_id"])
