"""The speed floor for the relay benchmark: a bare pass-through relay that parses nothing.

uvicorn + Starlette + the very client Gephyr uses upstream (``gephyr_core.relay.http.ClientPool``:
httpx over httpx-aiohttp's ``AiohttpTransport``, same limits and timeouts). Every ``POST`` is
forwarded to ``UPSTREAM + path`` with the request body bytes and the client's headers (hop-by-hop
ones dropped); the answer comes back byte for byte: a reply with a ``content-length`` is read whole
and sent as one body (what Gephyr does for non-stream replies), anything else is streamed chunk by
chunk as it arrives.

Run: ``python -m tests.benchmarks.floor_relay --upstream http://127.0.0.1:PORT --ready-file PATH
[--port 0] [--loop auto|asyncio|uvloop]``; the bound port is written to the ready file.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
from collections.abc import AsyncIterator

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from gephyr_core.relay.http import ClientPool

_HOP = frozenset({b"host", b"content-length", b"connection", b"keep-alive", b"transfer-encoding", b"te",
                  b"upgrade", b"proxy-authorization", b"trailer"})
_DROP_BACK = frozenset({"content-length", "content-encoding", "transfer-encoding", "connection",
                        "keep-alive", "date", "server"})


def create_app(upstream: str) -> Starlette:
    """The pass-through app forwarding to ``upstream`` (a base URL without a trailing slash)."""
    pool = ClientPool()
    base = upstream.rstrip("/")

    async def forward(request: Request) -> Response:
        client = pool.get()
        headers = [(k, v) for k, v in request.scope["headers"] if k not in _HOP]
        body = await request.body()
        url = base + request.url.path
        query = request.scope.get("query_string")
        if query:
            url += "?" + query.decode("latin-1")
        upstream_request = client.build_request("POST", url, headers=headers, content=body)
        try:
            reply = await client.send(upstream_request, stream=True)
        except httpx.HTTPError as exc:
            return Response(f"upstream unreachable ({type(exc).__name__})".encode(), status_code=502)
        back = {k: v for k, v in reply.headers.items() if k not in _DROP_BACK}
        media = reply.headers.get("content-type")
        if "content-length" in reply.headers:
            try:
                data = await reply.aread()
            finally:
                await reply.aclose()
            return Response(data, status_code=reply.status_code, headers=back, media_type=media)

        async def chunks() -> AsyncIterator[bytes]:
            async for chunk in reply.aiter_raw():
                yield chunk

        return StreamingResponse(chunks(), status_code=reply.status_code, headers=back, media_type=media,
                                 background=BackgroundTask(reply.aclose))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await pool.aclose()

    return Starlette(routes=[Route("/{path:path}", forward, methods=["POST"])], lifespan=lifespan)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True, help="upstream base URL, e.g. http://127.0.0.1:9000")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--loop", default="auto", choices=("auto", "asyncio", "uvloop"),
                    help="uvicorn event loop (auto = uvloop when installed)")
    args = ap.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(2048)
    tmp = args.ready_file + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(str(sock.getsockname()[1]))
    os.replace(tmp, args.ready_file)
    config = uvicorn.Config(create_app(args.upstream), loop=args.loop, lifespan="on", access_log=False,
                            log_level="warning", server_header=False, ws="none")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
