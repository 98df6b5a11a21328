"""The usage tap on same-format traffic reads usage without parsing other frames."""

from __future__ import annotations

from gephyr_core.relay.tap import UsageTap
from gephyr_core.wire import Usage


def test_openai_stream_split_inside_the_usage_frame() -> None:
    tap = UsageTap("openai", streaming=True)
    for chunk in (
        b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n',
        b'data: {"choices":[],"usa',
        b'ge":{"prompt_tokens":5,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":2}}}\n\n',
        b"data: [DONE]\n\n",
    ):
        tap.feed(chunk)
    assert tap.close() == Usage(5, 2, 0, 7, 0)


def test_anthropic_stream_folds_start_and_delta() -> None:
    tap = UsageTap("anthropic", streaming=True)
    tap.feed(
        b'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":3,'
        b'"cache_read_input_tokens":10,"output_tokens":1}}}\n\n'
    )
    tap.feed(b'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":12}}\n\n')
    assert tap.close() == Usage(13, 10, 0, 12, 0)


def test_gemini_sse_crlf_and_whole_bodies() -> None:
    tap = UsageTap("gemini", streaming=True)
    tap.feed(
        b'data: {"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4,"thoughtsTokenCount":2}}'
        b"\r\n\r\n"
    )
    assert tap.close() == Usage(3, 0, 0, 6, 2)
    whole = UsageTap("openai", streaming=False)
    whole.feed(b'{"usage":{"prompt_tokens":1,')
    whole.feed(b'"completion_tokens":2}}')
    assert whole.close() == Usage(1, 0, 0, 2, 0)
