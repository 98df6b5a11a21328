"""SSE parser and frame writers (protocols.md §1.2)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gephyr_core.wire.sse import (
    DONE,
    SSEEvent,
    SSEParser,
    data_frame,
    event_frame,
    gemini_sse_frame,
)

STREAM = (
    'event: message_start\r\ndata: {"a":1}\r\n\r\n'
    ": keep-alive\n\n"
    "data: line1\ndata: line2\n\n"
    "event: x\rdata:nospace\r\r"
    'data: {"t":"é€😀"}\n\n'
).encode()
EXPECTED = [
    SSEEvent("message_start", '{"a":1}'),
    SSEEvent(None, "line1\nline2"),
    SSEEvent("x", "nospace"),
    SSEEvent(None, '{"t":"é€😀"}'),
]


def test_parser_whole_stream() -> None:
    parser = SSEParser()
    assert parser.feed(STREAM) + parser.close() == EXPECTED


def test_parser_byte_by_byte() -> None:
    parser = SSEParser()
    events = [e for i in range(len(STREAM)) for e in parser.feed(STREAM[i : i + 1])]
    assert events + parser.close() == EXPECTED


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_parser_any_split(cuts: list[int]) -> None:
    points = sorted({0, len(STREAM), *cuts})
    parser = SSEParser()
    events = []
    for a, b in zip(points, points[1:], strict=False):
        events += parser.feed(STREAM[a:b])
    assert events + parser.close() == EXPECTED


def test_parser_last_event_without_blank_line_is_flushed_at_close() -> None:
    parser = SSEParser()
    assert parser.feed(b"data: [DONE]") == []
    assert parser.close() == [SSEEvent(None, "[DONE]")]


def test_frames_exact_bytes() -> None:
    payload = {"type": "ping", "x": "é"}
    assert data_frame(payload) == 'data: {"type":"ping","x":"é"}\n\n'.encode()
    assert event_frame(payload) == 'event: ping\ndata: {"type":"ping","x":"é"}\n\n'.encode()
    assert gemini_sse_frame({"a": 1}) == b'data: {"a":1}\r\n\r\n'
    assert DONE == b"data: [DONE]\n\n"
