"""Schema migrations, applied in order inside a transaction and recorded in `_migrations`.

Each migration is a module `gephyr_core/store/schema/mNNN_<name>.py` with a
`migrate(db)` function; they run in name order, so adding a table is adding a module.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import time
from collections.abc import Callable

from sqlite_utils import Database

from gephyr_core.store import schema


def migrations() -> list[tuple[str, Callable[[Database], None]]]:
    """(name, function) of every migration module, in order."""
    names = sorted(
        m.name for m in pkgutil.iter_modules(schema.__path__) if re.fullmatch(r"m\d{3}_\w+", m.name)
    )
    return [(n, importlib.import_module(f"{schema.__name__}.{n}").migrate) for n in names]


def migrate(db: Database) -> list[str]:
    """Apply pending migrations, each in its own transaction; return the names applied."""
    if "_migrations" not in db.table_names():
        db.table("_migrations").create({"name": str, "applied_at": int}, pk="name")
    done = {row["name"] for row in db.table("_migrations").rows}
    applied = []
    for name, fn in migrations():
        if name in done:
            continue
        with db.atomic():
            fn(db)
            db.table("_migrations").insert({"name": name, "applied_at": int(time.time())})
            db.table("meta").upsert({"key": "schema_version", "value": name}, pk="key")
        applied.append(name)
    return applied
