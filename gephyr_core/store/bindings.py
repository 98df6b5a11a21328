"""The `session_bindings` table: restored at start, written by the background flush."""

from __future__ import annotations

from typing import Any

from gephyr_core.store.db import Store


def load(store: Store) -> list[dict[str, Any]]:
    """Every persisted binding."""
    with store.reading() as db:
        return [dict(r) for r in db.query("SELECT * FROM session_bindings")]


def write(store: Store, upserts: list[dict[str, Any]], deletes: list[tuple[str, str]]) -> None:
    """Apply a batch of binding changes in one transaction (no change-counter bump: runtime data)."""
    with store.transaction() as db:
        if upserts:
            db.table("session_bindings").upsert_all(upserts, pk=("session_id", "model"))
        for session_id, model in deletes:
            db.execute("DELETE FROM session_bindings WHERE session_id = ? AND model = ?", [session_id, model])


def clear(store: Store) -> int:
    """Delete every persisted binding; returns how many."""
    with store.transaction() as db:
        return db.execute("DELETE FROM session_bindings").rowcount


def count(store: Store) -> int:
    with store.reading() as db:
        row = db.execute("SELECT COUNT(*) FROM session_bindings").fetchone()
    return int(row[0]) if row else 0
