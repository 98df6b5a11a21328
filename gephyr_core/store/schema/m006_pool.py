"""m006: account → egress proxy bindings (pool.md §4)."""

from __future__ import annotations

from sqlite_utils import Database


def migrate(db: Database) -> None:
    db.table("proxy_bindings").create({"account_id": str, "proxy_id": str, "bound_at": int}, pk="account_id")
    db.table("proxy_bindings").create_index(["proxy_id"])
