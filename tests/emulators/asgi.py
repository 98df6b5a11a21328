"""ASGI plumbing shared by the emulators: recording requests and paced, droppable bodies."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tests.emulators.script import Emulator, Error, Raw, RecordedRequest, Reply


def dumps(value: Any) -> str:
    """Compact single-line JSON, as the providers send it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class ScriptedResponse(Response):
    """A body sent as frames with optional pacing; ``abort_after`` frames then a dropped socket.

    Returning from the ASGI call without the final body message makes uvicorn close the
    connection, so the client sees an unterminated body (a mid-stream failure).
    """

    def __init__(
        self,
        frames: Sequence[bytes],
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        media_type: str = "application/json",
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        abort_after: int | None = None,
        content_length: bool = False,
    ) -> None:
        self.frames = list(frames)
        self.delay = delay
        self.chunk_delay = chunk_delay
        self.abort_after = abort_after
        super().__init__(None, status_code=status, headers=headers, media_type=media_type)
        if content_length:
            self.headers["content-length"] = str(sum(len(f) for f in self.frames))

    def init_headers(self, headers: Any = None) -> None:
        super().init_headers(headers)
        # No content-length unless asked for: streams go out chunked.
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with anyio.create_task_group() as group:

            async def watch_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(watch_disconnect)
            await self._send(send)
            group.cancel_scope.cancel()

    async def _send(self, send: Send) -> None:
        if self.delay:
            await anyio.sleep(self.delay)
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        for index, frame in enumerate(self.frames):
            if self.abort_after is not None and index >= self.abort_after:
                return
            if index and self.chunk_delay:
                await anyio.sleep(self.chunk_delay)
            await send({"type": "http.response.body", "body": frame, "more_body": True})
        if self.abort_after is not None:
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def json_response(
    body: Any, *, status: int = 200, headers: dict[str, str] | None = None, delay: float = 0.0
) -> ScriptedResponse:
    return ScriptedResponse(
        [dumps(body).encode()], status=status, headers=headers, delay=delay, content_length=True
    )


def raw_response(raw: Raw) -> ScriptedResponse:
    frames = raw.body if isinstance(raw.body, list) else [raw.body]
    return ScriptedResponse(
        frames,
        status=raw.status,
        headers=raw.headers,
        media_type=raw.content_type,
        delay=raw.delay,
        chunk_delay=raw.chunk_delay,
        abort_after=raw.drop_after,
        content_length=not isinstance(raw.body, list) and raw.drop_after is None,
    )


def split_for_drop(body: bytes, drop_after: int | None) -> tuple[list[bytes], int | None]:
    """Non-stream bodies: with a drop, send only the first half of the bytes."""
    if drop_after is None:
        return [body], None
    half = len(body) // 2
    return [body[:half], body[half:]], 1


SSE_HEADERS = {"cache-control": "no-cache"}


def word_chunks(text: str, words: int) -> list[str]:
    """Split text into deltas of ``words`` words each (whitespace kept, nothing lost)."""
    parts = re.findall(r"\s*\S+\s*?(?=\s|$)|\s+$", text) if text else []
    if "".join(parts) != text:
        parts = [text]
    size = max(1, words)
    return ["".join(parts[i : i + size]) for i in range(0, len(parts), size)]


def char_chunks(text: str, size: int) -> list[str]:
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def finish_frames(
    content: list[bytes], tail: list[bytes], reply: Reply, render_error: Callable[[Error], bytes]
) -> list[bytes]:
    """Content frames plus the success tail, or cut by the reply's in-band stream error."""
    if reply.stream_error is None:
        return content + tail
    cut = len(content) if reply.error_after is None else reply.error_after
    return content[:cut] + [render_error(reply.stream_error)]


async def record(request: Request, emulator: Emulator, route: str) -> RecordedRequest:
    """Read, parse and record the request; a body that is not JSON is recorded as ``None``."""
    raw = await request.body()
    body: Any = None
    if raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
    recorded = RecordedRequest(
        method=request.method,
        path=request.url.path,
        query=dict(request.query_params),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
        raw_body=raw,
        route=route,
    )
    emulator.record(recorded)
    return recorded


def bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization")
    if value and value[:7].lower() == "bearer ":
        return value[7:].strip()
    return None
