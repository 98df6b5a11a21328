"""`gephyr serve`: startup checks, the listener, `server.json`, graceful shutdown."""

from __future__ import annotations

import contextlib
import copy
import logging
import socket
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.status import encryption_status
from gephyr_core.config.document import new_api_key
from gephyr_core.config.validate import validate
from gephyr_core.datadir import read_server_json, remove_server_json, write_server_json
from gephyr_core.errors import GephyrError, KeyUnavailable, ValidationFailed
from gephyr_core.server.runtime import ServerRuntime
from gephyr_core.store import accounts as table

log = logging.getLogger("gephyr.server")


def prepare(
    ctx: AdminContext, overrides: Mapping[str, Any], announce: Callable[[str], None]
) -> ServerRuntime:
    """Startup steps 2–6 (config.md §8): refuse a second server, migrate, load, preflight."""
    ctx.dd.ensure()
    live = read_server_json(ctx.dd)
    if live is not None:
        raise GephyrError(
            f"a server is already running on this data dir (pid {live['pid']})", code="conflict"
        )
    _ = ctx.store
    ctx.config.text()
    if ctx.config.created_api_key:
        key = ctx.config.created_api_key
        announce(f"created {ctx.dd.config_path} with a new relay API key: {key}")
    settings = ctx.config.settings(ctx.env, overrides)
    if not settings.get("auth.api_key"):
        key = new_api_key()
        ctx.config.update(lambda doc: doc["auth"].__setitem__("api_key", key))
        announce(f"generated a relay API key: {key}")
        settings = ctx.config.settings(ctx.env, overrides)
    checked = copy.deepcopy(dict(settings.data))
    if checked["server"].get("port") == 0:  # `--port 0` asks the OS for a free port
        checked["server"]["port"] = 1
    problems, _ = validate(checked)
    if problems:
        raise ValidationFailed(problems)
    for warning in settings.warnings:
        log.warning(warning)
    enc = encryption_status(ctx, table.list_accounts(ctx.store))
    if enc["decryptFailures"]:
        first = enc["firstFailure"]
        raise KeyUnavailable(
            f"key mismatch: {enc['decryptFailures']} stored secret(s) do not decrypt;"
            f" first: account {first['accountId']} field {first['field']}"
        )
    return ServerRuntime(ctx, settings, overrides)


def bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # An explicitly TCP socket with TCP_NODELAY (inherited by accepted connections on
    # Linux): uvicorn writes headers and body in two sends, and with Nagle on the second
    # waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise GephyrError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _graceful_server_class() -> type:
    import signal

    import uvicorn

    class GracefulServer(uvicorn.Server):
        """uvicorn re-raises SIGTERM after shutdown, killing the process before cleanup;
        here a signal only starts the graceful shutdown, so `server.json` is removed and the
        process exits 0."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return GracefulServer


def run(rt: ServerRuntime, announce: Callable[[str], None]) -> None:
    """Serve until SIGINT/SIGTERM; `server.json` exists exactly while the listener is up."""
    import os

    import uvicorn

    from gephyr_core.server.app import create_app

    _GracefulServer = _graceful_server_class()

    settings = rt.settings
    host = settings.bind_host
    sock = bind(host, int(settings.get("server.port")))
    rt.port = sock.getsockname()[1]
    rt.overrides["server.port"] = rt.port  # reloads then validate the real port, not `0`
    config = uvicorn.Config(
        create_app(rt),
        log_level=str(settings.get("logging.level")),
        access_log=False,
        timeout_graceful_shutdown=int(settings.get("server.shutdown_drain_timeout")),
        lifespan="on",
        server_header=False,
        # The client IP is Gephyr's call (auth.trusted_proxies, security.md §7): uvicorn
        # must not rewrite the socket peer from X-Forwarded-For on its own.
        proxy_headers=False,
    )
    server = _GracefulServer(config)
    import signal

    # Handlers go in before server.json appears: a stop signal from then on always means a
    # graceful shutdown, even while uvicorn is still starting.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, server.handle_exit)
    rt.shutdown_hook = lambda: server.handle_exit(signal.SIGTERM, None)  # POST /api/proxy/stop
    write_server_json(rt.ctx.dd, rt.server_info(host))
    announce(f"gephyr serving on http://{host}:{rt.port} (data dir {rt.ctx.dd.root})")
    try:
        server.run(sockets=[sock])  # uvicorn picks the event loop (uvloop when installed)
    finally:
        remove_server_json(rt.ctx.dd, os.getpid())
        sock.close()
        rt.ctx.close()
