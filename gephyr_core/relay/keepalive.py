"""Keep-alive frames on quiet streams (protocols.md §1.2): Anthropic `ping`, SSE comments."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

PINGS = {
    "anthropic": b'event: ping\ndata: {"type":"ping"}\n\n',
    "chat": b": keep-alive\n\n",
    "completions": b": keep-alive\n\n",
    "responses": b": keep-alive\n\n",
}


async def with_keepalive(chunks: AsyncIterator[bytes], fmt: str, interval: float) -> AsyncIterator[bytes]:
    """Yield the chunks, inserting the format's keep-alive after `interval` s without output.

    Gemini gets none (its parser rejects comments); `interval <= 0` turns it off.
    """
    ping = PINGS.get(fmt)
    if ping is None or interval <= 0:
        async for chunk in chunks:
            yield chunk
        return
    iterator = aiter(chunks)
    pending: asyncio.Future[bytes] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield ping
                continue
            try:
                chunk = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield chunk
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await pending
        close = getattr(iterator, "aclose", None)
        if close is not None:
            await close()
