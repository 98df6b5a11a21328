"""Light taps on same-format traffic: usage from the bytes going by, nothing rewritten.

Only frames that mention usage are JSON-parsed, so the fast path stays a byte copy.
"""

from __future__ import annotations

import json
from typing import Any

from gephyr_core.wire import Usage
from gephyr_core.wire.sse import SSEParser

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
    """Reads usage from a same-format response, streamed or whole."""

    def __init__(self, provider: str, streaming: bool) -> None:
        self.provider = provider
        self.usage = Usage()
        self._parser = SSEParser() if streaming else None
        self._whole = bytearray() if not streaming else None

    def feed(self, chunk: bytes) -> None:
        if self._parser is None:
            assert self._whole is not None
            self._whole += chunk
            return
        for event in self._parser.feed(chunk):
            if event.data.startswith("{") and any(m.decode() in event.data for m in _MARKERS):
                self._fold(event.data)

    def close(self) -> Usage:
        """The usage seen, after the last byte."""
        if self._whole is not None:
            self._fold(bytes(self._whole))
        return self.usage

    def _fold(self, data: str | bytes) -> None:
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
