"""Migration modules `mNNN_<name>.py`, each with `migrate(db)`; see `store.migrations`."""
