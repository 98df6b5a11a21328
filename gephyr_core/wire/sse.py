"""Server-sent events: an incremental parser and the frame writers of protocols.md §1.2."""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gephyr_core.wire.jsonx import dumpb

DONE = b"data: [DONE]\n\n"
KEEPALIVE_COMMENT = b": keep-alive\n\n"


@dataclass(frozen=True)
class SSEEvent:
    event: str | None
    data: str


class SSEParser:
    """Bytes chunks, split anywhere (even inside a UTF-8 sequence or a CRLF) → events."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buffer = ""
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        self._buffer += self._decoder.decode(chunk)
        return self._drain(final=False)

    def close(self) -> list[SSEEvent]:
        """Flush at EOF; a last event without its blank line is still delivered."""
        self._buffer += self._decoder.decode(b"", final=True)
        events = self._drain(final=True)
        if self._buffer:
            self._line(self._buffer, events)
            self._buffer = ""
        self._dispatch(events)
        return events

    def _drain(self, final: bool) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        buffer, pos = self._buffer, 0
        while True:
            cut = _line_end(buffer, pos, final)
            if cut is None:
                break
            end, nxt = cut
            self._line(buffer[pos:end], events)
            pos = nxt
        self._buffer = buffer[pos:]
        return events

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if line == "":
            self._dispatch(events)
            return
        if line.startswith(":"):
            return
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if self._data:
            events.append(SSEEvent(self._event or None, "\n".join(self._data)))
        self._event, self._data = None, []


def _line_end(buffer: str, start: int, final: bool) -> tuple[int, int] | None:
    """(end of line, start of next) for the first complete line from `start`.

    Lines end at LF, CRLF or a lone CR; a CR at the very end waits for more input (it may
    be the first half of a CRLF) unless this is the final flush. The scans are `str.find`,
    not a Python loop over characters.
    """
    lf = buffer.find("\n", start)
    cr = buffer.find("\r", start, lf if lf >= 0 else len(buffer))
    if cr < 0:
        return None if lf < 0 else (lf, lf + 1)
    if cr + 1 < len(buffer):
        return cr, cr + 2 if buffer[cr + 1] == "\n" else cr + 1
    return (cr, cr + 1) if final else None


def data_frame(payload: Mapping[str, Any]) -> bytes:
    """Chat and completions: `data: <json>\\n\\n`."""
    return b"data: " + dumpb(payload) + b"\n\n"


def event_frame(payload: Mapping[str, Any]) -> bytes:
    """Responses and anthropic: the `event:` name equals the payload's `type`."""
    return f"event: {payload['type']}\ndata: ".encode() + dumpb(payload) + b"\n\n"


def gemini_sse_frame(payload: Mapping[str, Any]) -> bytes:
    """Gemini `alt=sse`: `data: <json>\\r\\n\\r\\n`, no event names."""
    return b"data: " + dumpb(payload) + b"\r\n\r\n"
