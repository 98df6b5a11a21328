"""Keep-alive frames on quiet streams (protocols.md §1.2): Anthropic `ping`, SSE comments.

One pump task reads the stream into a small queue and one ticker task adds a ping when
nothing went out for the interval, so a chunk costs a queue hand-off, not a timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

PINGS = {
    "anthropic": b'event: ping\ndata: {"type":"ping"}\n\n',
    "chat": b": keep-alive\n\n",
    "completions": b": keep-alive\n\n",
    "responses": b": keep-alive\n\n",
}
_END = object()


class _Pinger:
    def __init__(self, chunks: AsyncIterator[bytes], ping: bytes, interval: float) -> None:
        self.chunks = chunks
        self.ping = ping
        self.interval = interval
        self.queue: asyncio.Queue[object] = asyncio.Queue(maxsize=8)
        self.last = time.monotonic()

    async def pump(self) -> None:
        try:
            async for chunk in self.chunks:
                await self.queue.put(chunk)
        except Exception as exc:  # handed to the consumer, which re-raises it
            await self.queue.put(exc)
            return
        await self.queue.put(_END)

    async def ticker(self) -> None:
        while True:
            await asyncio.sleep(max(0.0, self.last + self.interval - time.monotonic()))
            if time.monotonic() - self.last >= self.interval and self.queue.empty():
                await self.queue.put(self.ping)

    async def frames(self) -> AsyncIterator[bytes]:
        while True:
            item = await self.queue.get()
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            assert isinstance(item, bytes)
            self.last = time.monotonic()
            yield item


async def with_keepalive(chunks: AsyncIterator[bytes], fmt: str, interval: float) -> AsyncIterator[bytes]:
    """Yield the chunks, inserting the format's keep-alive after `interval` s without output.

    Gemini gets none (its parser rejects comments); `interval <= 0` turns it off.
    """
    ping = PINGS.get(fmt)
    if ping is None or interval <= 0:
        async for chunk in chunks:
            yield chunk
        return
    pinger = _Pinger(chunks, ping, interval)
    tasks = (asyncio.ensure_future(pinger.pump()), asyncio.ensure_future(pinger.ticker()))
    try:
        async for frame in pinger.frames():
            yield frame
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
