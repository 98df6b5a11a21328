"""SQLite storage through sqlite-utils: one module per record kind; only `store/` touches tables."""

from gephyr_core.store.db import Store, open_store

__all__ = ["Store", "open_store"]
