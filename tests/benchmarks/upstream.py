"""A deliberately cheap emulated upstream for the relay benchmark (its own process, loopback only).

Fixed replies, no validation, no auth check: a raw asyncio protocol over ``httptools`` (on uvloop
when installed) so that it costs far less per request than any relay in front of it.

Endpoints (the path suffix decides, ``"stream": true`` in the body picks the streamed reply):

* ``POST …/chat/completions`` – OpenAI chat completion or ``chat.completion.chunk`` SSE stream
  (the usage-only chunk is sent when the body asks for ``include_usage``);
* ``POST …/v1/messages`` – Anthropic message or Messages SSE stream.

Run: ``python -m tests.benchmarks.upstream --ready-file PATH [--port 0] [--chunks 8]``; the bound
port is written to the ready file once the socket listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
from typing import Any, cast

import httptools

_STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
_USAGE_RE = re.compile(rb'"include_usage"\s*:\s*true')
_WORDS = ("Hello", " from", " the", " benchmark", " upstream", ",", " a", " fixed", " reply", ".")


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return (head + "data: " + json.dumps(data, separators=(",", ":")) + "\n\n").encode()


def _words(n: int) -> list[str]:
    return [_WORDS[i % len(_WORDS)] for i in range(n)]


def openai_whole(chunks: int) -> bytes:
    text = "".join(_words(chunks))
    return json.dumps({
        "id": "chatcmpl-bench0001", "object": "chat.completion", "created": 1700000000,
        "model": "gpt-4o-mini", "system_fingerprint": "fp_bench",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 24, "completion_tokens": chunks, "total_tokens": 24 + chunks},
    }, separators=(",", ":")).encode()


def openai_stream(chunks: int) -> tuple[list[bytes], bytes]:
    """(frames, usage-only frame); the caller adds the usage frame when asked for."""
    base = {"id": "chatcmpl-bench0001", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "gpt-4o-mini", "system_fingerprint": "fp_bench"}
    frames = [_sse({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                         "logprobs": None, "finish_reason": None}]})]
    for word in _words(chunks):
        frames.append(_sse({**base, "choices": [{"index": 0, "delta": {"content": word},
                                                 "logprobs": None, "finish_reason": None}]}))
    frames.append(_sse({**base, "choices": [{"index": 0, "delta": {}, "logprobs": None,
                                             "finish_reason": "stop"}]}))
    usage = _sse({**base, "choices": [], "usage": {"prompt_tokens": 24, "completion_tokens": chunks,
                                                   "total_tokens": 24 + chunks}})
    return frames, usage


def anthropic_whole(chunks: int) -> bytes:
    return json.dumps({
        "id": "msg_bench0001", "type": "message", "role": "assistant", "model": "claude-3-5-haiku-20241022",
        "content": [{"type": "text", "text": "".join(_words(chunks))}],
        "stop_reason": "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": 24, "output_tokens": chunks},
    }, separators=(",", ":")).encode()


def anthropic_stream(chunks: int) -> list[bytes]:
    frames = [
        _sse({"type": "message_start", "message": {
            "id": "msg_bench0001", "type": "message", "role": "assistant",
            "model": "claude-3-5-haiku-20241022", "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 24, "output_tokens": 1}}}, "message_start"),
        _sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
             "content_block_start"),
        _sse({"type": "ping"}, "ping"),
    ]
    for word in _words(chunks):
        frames.append(_sse({"type": "content_block_delta", "index": 0,
                            "delta": {"type": "text_delta", "text": word}}, "content_block_delta"))
    frames += [
        _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _sse({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
              "usage": {"output_tokens": chunks}}, "message_delta"),
        _sse({"type": "message_stop"}, "message_stop"),
    ]
    return frames


def _whole_response(body: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


def _chunk(frame: bytes) -> bytes:
    return f"{len(frame):x}\r\n".encode() + frame + b"\r\n"


_STREAM_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"


class Replies:
    """Every reply pre-encoded once (HTTP/1.1 framing included)."""

    def __init__(self, chunks: int) -> None:
        self.openai_whole = _whole_response(openai_whole(chunks))
        self.anthropic_whole = _whole_response(anthropic_whole(chunks))
        frames, usage = openai_stream(chunks)
        done = _chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n"
        self.openai_stream = [_STREAM_HEAD + _chunk(frames[0]), *map(_chunk, frames[1:]), done]
        self.openai_stream_usage = [*self.openai_stream[:-1], _chunk(usage), done]
        anthropic = anthropic_stream(chunks)
        self.anthropic_stream = [_STREAM_HEAD + _chunk(anthropic[0]), *map(_chunk, anthropic[1:-1]),
                                 _chunk(anthropic[-1]) + b"0\r\n\r\n"]


class UpstreamProtocol(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; answers each request when its body is complete."""

    def __init__(self, replies: Replies, gap: float) -> None:
        self.replies = replies
        self.gap = gap
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        path = self.url.split(b"?", 1)[0]
        body = b"".join(self.body)
        stream = _STREAM_RE.search(body) is not None
        if path.endswith(b"/chat/completions"):
            if not stream:
                frames = [self.replies.openai_whole]
            elif _USAGE_RE.search(body):
                frames = self.replies.openai_stream_usage
            else:
                frames = self.replies.openai_stream
        elif path.endswith(b"/v1/messages"):
            frames = self.replies.anthropic_stream if stream else [self.replies.anthropic_whole]
        else:
            frames = [_NOT_FOUND]
        keep = self.parser.should_keep_alive()
        if self.gap > 0 and len(frames) > 1:
            asyncio.get_running_loop().create_task(self._paced(transport, frames, keep))
            return
        for frame in frames:
            transport.write(frame)
        if not keep:
            transport.close()

    async def _paced(self, transport: asyncio.Transport, frames: list[bytes], keep: bool) -> None:
        for i, frame in enumerate(frames):
            if i:
                await asyncio.sleep(self.gap)
            if transport.is_closing():
                return
            transport.write(frame)
        if not keep:
            transport.close()


async def serve(port: int, ready_file: str, chunks: int, gap: float) -> None:
    loop = asyncio.get_running_loop()
    replies = Replies(chunks)
    server = await loop.create_server(lambda: UpstreamProtocol(replies, gap), "127.0.0.1", port,
                                      backlog=2048, reuse_address=True)
    bound = server.sockets[0].getsockname()[1]
    tmp = ready_file + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(str(bound))
    os.replace(tmp, ready_file)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--chunks", type=int, default=8, help="content deltas per reply")
    ap.add_argument("--event-gap-ms", type=float, default=0.0, help="pause between stream frames")
    args = ap.parse_args()
    try:
        import uvloop
    except ImportError:
        runner: Any = asyncio.run
    else:
        runner = uvloop.run
    runner(serve(args.port, args.ready_file, args.chunks, args.event_gap_ms / 1000))


if __name__ == "__main__":
    main()
