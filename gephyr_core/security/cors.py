"""CORS as a pure-ASGI layer (security.md §8): strict (listed origins) or permissive; no credentials.

Preflights are answered here and never reach auth. A preflight from an origin strict mode
does not list gets 403 without any `Access-Control-*` header, so the browser blocks it.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METHODS = "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
ALLOWED_HEADERS = "authorization, content-type, x-api-key, x-goog-api-key, anthropic-version, anthropic-beta"
EXPOSED_HEADERS = "x-request-id, x-correlation-id, x-mapped-model"
MAX_AGE = "3600"


class Cors:
    """`policy()` returns (mode, allowed origins) from the live settings (hot-applied)."""

    def __init__(self, app: ASGIApp, policy: Callable[[], tuple[str, frozenset[str]]]) -> None:
        self.app = app
        self.policy = policy

    def _allowed(self, origin: str) -> bool:
        mode, origins = self.policy()
        return mode == "permissive" or origin.rstrip("/") in origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(origin, headers, send)
            return
        if not self._allowed(origin):
            await self.app(scope, receive, send)
            return
        extra = self._simple_headers(origin)

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = message.get("headers", [])
                kept = [(k, v) for k, v in raw if not k.lower().startswith(b"access-control-")]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _allow_origin(self, origin: str) -> bytes:
        return b"*" if self.policy()[0] == "permissive" else origin.encode("latin-1")

    def _simple_headers(self, origin: str) -> list[tuple[bytes, bytes]]:
        return [
            (b"access-control-allow-origin", self._allow_origin(origin)),
            (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
            (b"vary", b"Origin"),
        ]

    async def _preflight(self, origin: str, headers: Headers, send: Send) -> None:
        if not self._allowed(origin):
            body = b'{"error":{"code":"forbidden","message":"CORS origin not allowed"}}'
            out = [(b"content-type", b"application/json"), (b"vary", b"Origin")]
            await _answer(send, 403, out, body)
            return
        requested = headers.get("access-control-request-headers", "")
        permissive = self.policy()[0] == "permissive"
        allow_headers = requested if permissive and requested else ALLOWED_HEADERS
        out = [
            (b"access-control-allow-origin", self._allow_origin(origin)),
            (b"access-control-allow-methods", METHODS.encode()),
            (b"access-control-allow-headers", allow_headers.encode("latin-1")),
            (b"access-control-max-age", MAX_AGE.encode()),
            (b"vary", b"Origin"),
        ]
        await _answer(send, 204, out, b"")


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
