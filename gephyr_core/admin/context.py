"""The context every admin operation receives: data dir, storage, config, secrets, runtime."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from gephyr_core.config import Settings
from gephyr_core.config.document import ConfigStore
from gephyr_core.datadir import DataDir
from gephyr_core.errors import NotRunning
from gephyr_core.secrets import SecretBox
from gephyr_core.store import Store, open_store


class Runtime(Protocol):
    """What a running server exposes to operations (absent on the local backend)."""

    @property
    def settings(self) -> Settings: ...

    def records_changed(self) -> None: ...

    def config_changed(self) -> None: ...

    def status(self) -> dict[str, Any]: ...


@dataclass
class AdminContext:
    """Everything an operation may touch; built per CLI run or once per server."""

    dd: DataDir
    env: Mapping[str, str]
    runtime: Runtime | None = None
    actor: str = "local_cli"
    request_id: str | None = None
    client_ip: str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)

    @functools.cached_property
    def store(self) -> Store:
        self.dd.ensure()
        return open_store(self.dd.db_path)

    @functools.cached_property
    def box(self) -> SecretBox:
        return SecretBox(self.dd.key_path, self.env, lambda: self.store.kdf_salt())

    @functools.cached_property
    def config(self) -> ConfigStore:
        return ConfigStore(self.dd, self.box)

    def settings(self) -> Settings:
        """The effective settings: the server's live copy, else loaded from the data dir."""
        if self.runtime is not None:
            return self.runtime.settings
        return self.config.settings(self.env, self.overrides)

    def require_runtime(self) -> Runtime:
        """The running server's state, or `not_running`."""
        if self.runtime is None:
            raise NotRunning()
        return self.runtime

    def records_changed(self) -> None:
        """Tell a running server (if this is one) that records changed."""
        if self.runtime is not None:
            self.runtime.records_changed()

    def config_changed(self) -> None:
        """Tell a running server (if this is one) that config.toml changed."""
        if self.runtime is not None:
            self.runtime.config_changed()

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()


def open_context(root: Path, env: Mapping[str, str], **kwargs: Any) -> AdminContext:
    """A context on the data dir at `root` (created 0700 on first use)."""
    return AdminContext(DataDir(root), dict(env), **kwargs)
