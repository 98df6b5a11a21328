"""Pure-ASGI middleware: request and correlation ids on every response."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _pick(headers: dict[bytes, bytes], *names: bytes) -> str | None:
    for name in names:
        value = headers.get(name)
        if value is not None and 1 <= len(value) <= 128:
            try:
                return value.decode("ascii")
            except UnicodeDecodeError:
                continue
    return None


class RequestIds:
    """Keeps a sane `x-request-id` (else mints a UUIDv4) and derives `x-correlation-id`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = _pick(headers, b"x-request-id") or str(uuid.uuid4())
        correlation = _pick(headers, b"x-correlation-id", b"x-trace-id") or request_id
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["correlation_id"] = correlation

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                raw = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"x-request-id", b"x-correlation-id")
                ]
                raw += [(b"x-request-id", request_id.encode()), (b"x-correlation-id", correlation.encode())]
                message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, send_with_ids)
