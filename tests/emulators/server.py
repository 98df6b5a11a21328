"""Run an ASGI app under real uvicorn on a free 127.0.0.1 port in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.failure: BaseException | None = None

    def run_in_thread(self, sock: socket.socket) -> None:
        try:
            self.run(sockets=[sock])
        except BaseException as exc:  # reported to the starting thread
            self.failure = exc


@contextmanager
def run_app(
    app: ASGIApp, *, startup_timeout: float = 10.0, shutdown_timeout: float = 10.0, lifespan: str = "off"
) -> Iterator[str]:
    """Serve ``app`` until the block exits; yields its base URL ``http://127.0.0.1:<port>``.

    Shutdown sets ``should_exit``, lets open requests finish for up to two seconds, then
    cancels them; the listening socket is closed either way.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        loop="asyncio",
        lifespan=lifespan,  # type: ignore[arg-type]
        ws="none",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    server = _Server(config)
    thread = threading.Thread(target=server.run_in_thread, args=(sock,), name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if server.failure is not None or not thread.is_alive():
                raise RuntimeError(f"uvicorn failed to start on port {port}") from server.failure
            if time.monotonic() > deadline:
                raise TimeoutError(f"uvicorn did not start within {startup_timeout}s")
            time.sleep(0.005)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(shutdown_timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(shutdown_timeout)
        sock.close()
