"""Light taps on same-format traffic: usage from the bytes going by, nothing rewritten.

Only frames that mention usage are JSON-parsed, so the fast path stays a byte copy.
"""

from __future__ import annotations

import json
from typing import Any

from gephyr_core.wire import Usage

_MARKERS = (b'"usage"', b'"usageMetadata"')


def usage_from(provider: str, obj: Any, current: Usage) -> Usage:
    """Fold one response object (or stream payload) into the usage seen so far."""
    if not isinstance(obj, dict):
        return current
    if provider == "gemini":
        meta = obj.get("usageMetadata")
        if not isinstance(meta, dict):
            return current
        prompt = int(meta.get("promptTokenCount") or 0)
        out = int(meta.get("candidatesTokenCount") or 0) + int(meta.get("thoughtsTokenCount") or 0)
        return Usage(
            prompt,
            int(meta.get("cachedContentTokenCount") or 0),
            0,
            out,
            int(meta.get("thoughtsTokenCount") or 0),
        )
    usage = obj.get("usage")
    if not isinstance(usage, dict) and isinstance(obj.get("message"), dict):
        usage = obj["message"].get("usage")
    if not isinstance(usage, dict):
        return current
    if provider == "anthropic":
        read = int(usage.get("cache_read_input_tokens") or 0) or current.cache_read
        write = int(usage.get("cache_creation_input_tokens") or 0) or current.cache_write
        fresh = int(usage.get("input_tokens") or 0)
        total_in = fresh + read + write if "input_tokens" in usage else current.input_total
        out = int(usage.get("output_tokens") or 0) or current.output_total
        return Usage(total_in, read, write, out, current.reasoning)
    details = usage.get("prompt_tokens_details") or {}
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return Usage(
        int(usage.get("prompt_tokens") or 0),
        int(details.get("cached_tokens") or 0),
        0,
        int(usage.get("completion_tokens") or 0),
        int(reasoning),
    )


class UsageTap:
    """Reads usage from a same-format response, streamed or whole.

    Streams are scanned as bytes: only complete lines of a chunk that mention usage are
    JSON-parsed, so frames without usage cost one substring search.
    """

    def __init__(self, provider: str, streaming: bool) -> None:
        self.provider = provider
        self.usage = Usage()
        self._streaming = streaming
        self._pending = bytearray()

    def feed(self, chunk: bytes) -> None:
        self._pending += chunk
        if not self._streaming:
            return
        cut = self._pending.rfind(b"\n")
        if cut < 0:
            return
        complete = bytes(self._pending[: cut + 1])
        del self._pending[: cut + 1]
        if b"usage" in complete:
            self._scan(complete)

    def close(self) -> Usage:
        """The usage seen, after the last byte."""
        rest = bytes(self._pending)
        self._pending.clear()
        if not self._streaming:
            self._fold(rest)
        elif b"usage" in rest:
            self._scan(rest)
        return self.usage

    def _scan(self, lines: bytes) -> None:
        for line in lines.split(b"\n"):
            if line.startswith(b"data:") and any(m in line for m in _MARKERS):
                self._fold(line[5:].strip())

    def _fold(self, data: bytes) -> None:
        try:
            obj = json.loads(data)
        except ValueError:
            return
        for item in obj if isinstance(obj, list) else [obj]:
            self.usage = usage_from(self.provider, item, self.usage)


def is_meaningful(event_data: str, event_name: str | None) -> bool:
    """An SSE event that commits a stream (pings and empty data lines do not)."""
    if event_name == "ping" or not event_data.strip():
        return False
    return True
