"""Diagnostic only: `gephyr serve` with one-line server fixes applied in-process, to size them.

The benchmark measures the real ``gephyr serve`` by default. ``--gephyr-variant`` runs this instead, so
a report can show what a candidate fix in ``gephyr_core/server/serve.py`` would buy, without editing it:

* ``nodelay``: the listening socket gets ``TCP_NODELAY`` (Linux copies it to every accepted socket).
  ``serve.bind`` creates its socket with protocol 0, and the stdlib asyncio loop only sets
  ``TCP_NODELAY`` on sockets whose ``proto == IPPROTO_TCP``, so accepted connections keep Nagle on and
  uvicorn's separate head/body writes wait for the client's delayed ACK (~40 ms on Linux).
* ``nodelay+uvloop``: the same, and ``asyncio.run`` in ``serve.run`` runs on uvloop (what uvicorn
  itself would pick with its default ``loop="auto"``; ``serve.run`` bypasses that).

Run: ``python -m tests.benchmarks.gephyr_variant --variant nodelay -- --data-dir D serve --port 0``.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from collections.abc import Coroutine
from typing import Any

VARIANTS = ("nodelay", "nodelay+uvloop")


def apply(variant: str) -> None:
    from gephyr_core.server import serve

    original_bind = serve.bind

    def bind_nodelay(host: str, port: int) -> socket.socket:
        sock = original_bind(host, port)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    serve.bind = bind_nodelay  # type: ignore[assignment]
    if variant == "nodelay+uvloop":
        import uvloop

        def run_on_uvloop(main: Coroutine[Any, Any, Any], **_: Any) -> Any:
            return uvloop.run(main)

        asyncio.run = run_on_uvloop  # type: ignore[assignment]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", required=True, choices=VARIANTS)
    ap.add_argument("cli", nargs=argparse.REMAINDER, help="arguments for the gephyr CLI")
    args = ap.parse_args()
    apply(args.variant)
    from gephyr_cli.app import main as gephyr_main

    cli = args.cli[1:] if args.cli[:1] == ["--"] else args.cli
    sys.argv = ["gephyr", *cli]
    gephyr_main()


if __name__ == "__main__":
    main()
