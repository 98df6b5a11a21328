"""Per-run CLI state: global options, the data-dir context and the chosen backend."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import typer

from gephyr_cli.output import Output


@dataclass
class CliState:
    """Global options of one run, with the backend created on first use."""

    data_dir: str | None = None
    remote: str | None = None
    admin_key: str | None = None
    as_json: bool = False
    quiet: bool = False
    color: bool = True
    debug: bool = False
    _backend: Any = field(default=None, repr=False)
    _ctx: Any = field(default=None, repr=False)

    @property
    def out(self) -> Output:
        return Output(self.as_json, self.quiet, self.color)

    def context(self) -> Any:
        """The admin context on the data dir (core imported lazily for a fast --help)."""
        if self._ctx is None:
            from gephyr_core.admin.context import open_context
            from gephyr_core.datadir import resolve_data_dir

            root = resolve_data_dir(self.data_dir, os.environ)
            self._ctx = open_context(root, os.environ)
        return self._ctx

    def backend(self) -> Any:
        """Local, through the local server, or remote (admin-api.md, "Backend choice")."""
        if self._backend is None:
            from gephyr_core.backend import choose_backend

            ctx = None if self.remote else self.context()
            if ctx is None:
                from gephyr_core.backend import RemoteBackend

                self._backend = RemoteBackend(self.remote or "", admin_key=self.admin_key)
            else:
                self._backend = choose_backend(ctx, None, self.admin_key, os.environ)
        return self._backend

    def call(self, name: str, **kwargs: Any) -> Any:
        """Run one admin operation on the chosen backend."""
        return self.backend().call(name, **kwargs)

    def close(self) -> None:
        created = self._ctx.__dict__.get("config") if self._ctx is not None else None
        if created is not None and created.created_api_key:
            self.out.hint(
                f"created {created.dd.config_path} with a new relay API key: {created.created_api_key}"
                " (shown once; later: gephyr config get auth.api_key --reveal)"
            )
        if self._backend is not None:
            self._backend.close()
        if self._ctx is not None:
            self._ctx.close()


def get_state(ctx: typer.Context) -> CliState:
    """The CliState stored on the root context."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj
