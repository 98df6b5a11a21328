"""Opening the database: file mode 0600, WAL, busy timeout, migrations, meta helpers."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlite_utils import Database

from gephyr_core.errors import StorageError
from gephyr_core.store.migrations import migrate


class Store:
    """A sqlite-utils database shared by threads behind one lock (writes are short)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        try:
            conn = sqlite3.connect(path, check_same_thread=False, timeout=10, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 10000")
            self.db = Database(conn)
            self.db.enable_wal()
            self.db.execute("PRAGMA foreign_keys = ON")
            self.lock = threading.RLock()
            with self.lock:
                migrate(self.db)
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{path}: {exc}") from exc

    @contextlib.contextmanager
    def transaction(self, change: bool = False) -> Iterator[Database]:
        """A write transaction; `change=True` bumps `meta.change_counter` in it."""
        with self.lock:
            try:
                with self.db.atomic():
                    yield self.db
                    if change:
                        self.db.execute(
                            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'change_counter'"
                        )
            except sqlite3.DatabaseError as exc:
                raise StorageError(f"database error: {exc}") from exc

    @contextlib.contextmanager
    def reading(self) -> Iterator[Database]:
        """Serialised access for reads on the shared connection."""
        with self.lock:
            try:
                yield self.db
            except sqlite3.DatabaseError as exc:
                raise StorageError(f"database error: {exc}") from exc

    def meta(self, key: str, default: str = "") -> str:
        """A value from the `meta` table."""
        with self.reading() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else default

    def set_meta(self, db: Database, key: str, value: str) -> None:
        """Set a meta value inside an open transaction."""
        db.table("meta").upsert({"key": key, "value": value}, pk="key")

    def change_counter(self) -> int:
        """The counter admin writes bump; servers poll it to reload records."""
        return int(self.meta("change_counter", "0") or 0)

    def kdf_salt(self) -> bytes:
        """The scrypt salt made with the database."""
        return bytes.fromhex(self.meta("kdf_salt"))

    def close(self) -> None:
        with self.lock:
            self.db.close()


def open_store(path: Path) -> Store:
    """Open (and migrate) the database at `path`."""
    return Store(path)
