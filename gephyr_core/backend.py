"""Where CLI operations run: on the data dir, through the server running on it, or remote."""

from __future__ import annotations

import getpass
import json
from collections.abc import Mapping
from typing import Any, Protocol

from gephyr_core.admin import AdminContext, catalog, invoke
from gephyr_core.datadir import read_server_json
from gephyr_core.errors import NotFound


class Backend(Protocol):
    """Runs an operation by name and returns its JSON-able result."""

    kind: str

    def call(self, name: str, **kwargs: Any) -> Any: ...

    def close(self) -> None: ...


class LocalBackend:
    """The operation functions themselves, on the data dir."""

    kind = "local"

    def __init__(self, ctx: AdminContext) -> None:
        self.ctx = ctx

    def call(self, name: str, **kwargs: Any) -> Any:
        reply = invoke(self.ctx, _op(name), kwargs)
        # A JSON round trip makes the local result identical to what the API would send.
        return json.loads(json.dumps(reply.data))

    def close(self) -> None:
        self.ctx.close()


class RemoteBackend:
    """The same operations over HTTP."""

    def __init__(self, base_url: str, kind: str = "remote", **client_args: Any) -> None:
        from gephyr_core.remote import RemoteClient

        self.kind = kind
        self.client = RemoteClient(base_url, **client_args)

    def call(self, name: str, **kwargs: Any) -> Any:
        return self.client.call(_op(name), kwargs)

    def close(self) -> None:
        self.client.close()


def _op(name: str) -> Any:
    try:
        return catalog()[name]
    except KeyError:
        raise NotFound(f"unknown operation {name}") from None


def choose_backend(
    ctx: AdminContext, remote: str | None, admin_key: str | None, env: Mapping[str, str]
) -> Backend:
    """`--remote` → HTTP; a live server on the data dir → HTTP with its local token; else local."""
    if remote:
        return RemoteBackend(remote, admin_key=admin_key)
    info = read_server_json(ctx.dd)
    if info and info.get("local_token") and info.get("base_url"):
        return RemoteBackend(
            str(info["base_url"]),
            kind="server",
            local_token=str(info["local_token"]),
            actor=_os_user(),
            admin_key=None,
        )
    return LocalBackend(ctx)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
