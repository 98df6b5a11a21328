"""Client tool sync operations (integrations.md §1).

Files are those of the user running the operation: the home directory comes from `HOME`
in the context's environment (the server's for a remote call, the CLI's for the local
backend, which runs this group in the CLI process even while a server runs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gephyr_core import integrations
from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import operation
from gephyr_core.datadir import read_server_json
from gephyr_core.errors import BadRequest


def _home(ctx: AdminContext) -> Path:
    home = ctx.env.get("HOME") or str(Path.home())
    return Path(home)


def _proxy_url(ctx: AdminContext, proxy_url: str | None) -> str:
    """The given URL, else `server.public_url`, else the local relay with its effective port."""
    if proxy_url is not None and proxy_url.strip():
        url = proxy_url.strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise BadRequest(f"proxyUrl must be an absolute http(s) URL, got {proxy_url!r}")
        return url
    if ctx.runtime is not None:
        return str(ctx.runtime.status()["base_url"]).rstrip("/")
    settings = ctx.settings()
    public = str(settings.get("server.public_url") or "")
    if public:
        return public.rstrip("/")
    info = read_server_json(ctx.dd)
    port = info.get("port") if info else settings.get("server.port")
    return f"http://127.0.0.1:{port}"


def _link(ctx: AdminContext, proxy_url: str | None, api_key: str | None) -> integrations.Link:
    key = str(ctx.settings().get("auth.api_key") or "") if api_key is None else api_key.strip()
    return integrations.Link(_proxy_url(ctx, proxy_url), key)


def _opencode() -> integrations.Target:
    return integrations.find_target("opencode")


@operation("integrations.status", "POST", "/api/proxy/cli/status", mutating=False)
def status(ctx: AdminContext, app_type: str, proxy_url: str | None = None) -> dict[str, Any]:
    """Whether a tool is installed and pointing at this relay."""
    target = integrations.find_target(app_type)
    return integrations.status(target, _home(ctx), ctx.env, _proxy_url(ctx, proxy_url))


@operation("integrations.sync", "POST", "/api/proxy/cli/sync")
def sync(
    ctx: AdminContext, app_type: str, proxy_url: str | None = None, api_key: str | None = None
) -> dict[str, Any]:
    """Point a tool at the relay (a backup of each existing file is kept)."""
    target = integrations.find_target(app_type)
    return integrations.sync(target, _home(ctx), _link(ctx, proxy_url, api_key))


@operation("integrations.restore", "POST", "/api/proxy/cli/restore")
def restore(ctx: AdminContext, app_type: str) -> dict[str, Any]:
    """Put a tool's files back as they were before the first sync."""
    return integrations.restore(integrations.find_target(app_type), _home(ctx))


@operation("integrations.config", "POST", "/api/proxy/cli/config", mutating=False)
def show(ctx: AdminContext, app_type: str, file_name: str | None = None) -> dict[str, Any]:
    """One of a tool's config files, secrets masked."""
    return integrations.show(integrations.find_target(app_type), _home(ctx), file_name)


@operation("integrations.opencode_status", "POST", "/api/proxy/opencode/status", mutating=False)
def opencode_status(ctx: AdminContext, proxy_url: str | None = None) -> dict[str, Any]:
    """Whether OpenCode is installed and pointing at this relay."""
    return integrations.status(_opencode(), _home(ctx), ctx.env, _proxy_url(ctx, proxy_url))


@operation("integrations.opencode_sync", "POST", "/api/proxy/opencode/sync", audit="integrations.sync")
def opencode_sync(
    ctx: AdminContext, proxy_url: str | None = None, api_key: str | None = None
) -> dict[str, Any]:
    """Point OpenCode at the relay."""
    return integrations.sync(_opencode(), _home(ctx), _link(ctx, proxy_url, api_key))


@operation(
    "integrations.opencode_restore", "POST", "/api/proxy/opencode/restore", audit="integrations.restore"
)
def opencode_restore(ctx: AdminContext) -> dict[str, Any]:
    """Put OpenCode's config back as it was before the first sync."""
    return integrations.restore(_opencode(), _home(ctx))


@operation("integrations.opencode_config", "POST", "/api/proxy/opencode/config", mutating=False)
def opencode_show(ctx: AdminContext, file_name: str | None = None) -> dict[str, Any]:
    """OpenCode's config file, secrets masked."""
    return integrations.show(_opencode(), _home(ctx), file_name)
