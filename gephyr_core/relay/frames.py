"""Frame-level edits on the chat fast path: drop the usage-only chunk Gephyr asked for."""

from __future__ import annotations


class UsageChunkFilter:
    """Removes `data:` frames whose chunk has empty `choices` and a `usage` (bytes otherwise kept)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> bytes:
        self._buffer += chunk
        out = []
        while True:
            cut = self._buffer.find(b"\n\n")
            if cut < 0:
                break
            frame, self._buffer = self._buffer[: cut + 2], self._buffer[cut + 2 :]
            if not _usage_only(frame):
                out.append(frame)
        return b"".join(out)

    def close(self) -> bytes:
        rest, self._buffer = self._buffer, b""
        return b"" if _usage_only(rest) else rest


def _usage_only(frame: bytes) -> bool:
    compact = frame.replace(b" ", b"")
    return b'"choices":[]' in compact and b'"usage"' in compact


#: bytes that show a same-format stream ended properly
TERMINATORS = {"chat": b"[DONE]", "anthropic": b"message_stop", "gemini": b"finishReason"}
#: bytes that show the upstream already ended a same-format stream with its own in-band error
UPSTREAM_ERRORS = {
    "chat": (b'data: {"error"',),
    "anthropic": (b"event: error",),
    "gemini": (b'data: {"error"', b',\r\n{"error"', b'[{"error"'),
}


def inband_error(fmt: str, gemini_sse: bool, message: str) -> bytes:
    """One in-band error frame in the client's stream format (protocols.md §6)."""
    import json

    text = json.dumps(message)
    if fmt == "anthropic":
        return (
            b'event: error\ndata: {"type":"error","error":{"type":"api_error","message":'
            + text.encode()
            + b"}}\n\n"
        )
    if fmt == "gemini":
        body = b'{"error":{"code":500,"message":' + text.encode() + b',"status":"INTERNAL"}}'
        return b"data: " + body + b"\r\n\r\n" if gemini_sse else b",\r\n" + body + b"]"
    return (
        b'data: {"error":{"message":'
        + text.encode()
        + b',"type":"upstream_error","param":null,"code":"stream_interrupted"}}\n\n'
    )
