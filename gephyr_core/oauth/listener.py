"""The loopback callback listener of a local flow (oauth.md §3): 127.0.0.1 and ::1, one port."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gephyr_core.errors import GephyrError

#: the callback's answer: (HTML page) for the parsed query parameters
OnCallback = Callable[[dict[str, str]], str]
_POLL_SECONDS = 0.1


class _Server(HTTPServer):
    allow_reuse_address = False

    def __init__(self, family: int, address: tuple[str, int], owner: LoopbackListener) -> None:
        self.address_family = family
        self.owner = owner
        super().__init__(address, _Handler)
        self.timeout = _POLL_SECONDS


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        parts = urlsplit(self.path)
        if parts.path != "/auth/callback":
            self._send(404, "text/plain; charset=utf-8", "not found")
            return
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        owner = self.server.owner
        if not owner.take():
            self._send(404, "text/plain; charset=utf-8", "this sign-in already finished")
            return
        try:
            page = owner.on_callback(params)
        finally:
            owner.close()
        self._send(200, "text/html; charset=utf-8", page)

    def _send(self, status: int, ctype: str, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the query carries the authorization code."""


class LoopbackListener:
    """Binds an ephemeral port on 127.0.0.1 and the same port on ::1; the first callback wins."""

    def __init__(self, on_callback: OnCallback) -> None:
        self.on_callback = on_callback
        self._lock = threading.Lock()
        self._taken = False
        self._closed = threading.Event()
        self._servers: list[_Server] = []
        self._bind()
        self._threads = [
            threading.Thread(target=self._serve, args=(s,), name="gephyr-oauth-listener", daemon=True)
            for s in self._servers
        ]
        for t in self._threads:
            t.start()

    def _bind(self) -> None:
        port = 0
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            try:
                server = _Server(family, (host, port), self)
            except OSError:
                continue
            port = server.server_address[1]
            self._servers.append(server)
        if not self._servers:
            raise GephyrError(
                "cannot listen on a loopback port for the OAuth callback",
                code="oauth.listener_failed",
                status=500,
            )
        self.port = port
        families = {s.address_family for s in self._servers}
        if len(families) == 2:
            host = "localhost"
        elif socket.AF_INET in families:
            host = "127.0.0.1"
        else:
            host = "[::1]"
        self.redirect_uri = f"http://{host}:{port}/auth/callback"

    def _serve(self, server: _Server) -> None:
        try:
            while not self._closed.is_set():
                server.handle_request()
        finally:
            server.server_close()

    def take(self) -> bool:
        """True for the first callback request only."""
        with self._lock:
            taken, self._taken = self._taken, True
            return not taken

    def close(self) -> None:
        """Stop listening (the serving threads close their sockets within a poll interval)."""
        self._closed.set()
        current = threading.current_thread()
        for t in self._threads:
            if t is not current:
                t.join(2)
