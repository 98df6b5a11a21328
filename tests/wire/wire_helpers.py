"""Helpers shared by the wire tests (imported as a plain module; tests/wire has no package)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping
from typing import Any

from gephyr_core.wire.canonical import ClientContext, Request
from gephyr_core.wire.events import Event
from gephyr_core.wire.ids import UpstreamContext
from gephyr_core.wire.registry import StreamDecoder, StreamEncoder
from gephyr_core.wire.sse import SSEParser

CREATED = 1_700_000_000


def client_ctx(request: Request, seed: int = 0) -> ClientContext:
    return ClientContext(request, created=CREATED, rng=random.Random(seed))


def upstream_ctx(request: Request, provider: str, seed: int = 1) -> UpstreamContext:
    return UpstreamContext.for_request(request, provider, random.Random(seed))  # type: ignore[arg-type]


def decode_stream(
    decoder: StreamDecoder, payloads: Iterable[Mapping[str, Any] | str]
) -> list[Event]:
    events: list[Event] = []
    for payload in payloads:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        event = payload.get("type") if isinstance(payload, Mapping) else None
        events += decoder.feed(data, event if isinstance(event, str) else None)
    return events + decoder.close()


def encode_stream(encoder: StreamEncoder, events: Iterable[Event]) -> bytes:
    return b"".join(encoder.feed(e) for e in events)


def sse(raw: bytes) -> list[tuple[str | None, Any]]:
    """Parse SSE bytes into (event name, JSON or raw data) pairs."""
    parser = SSEParser()
    out: list[tuple[str | None, Any]] = []
    for ev in parser.feed(raw) + parser.close():
        try:
            out.append((ev.event, json.loads(ev.data)))
        except ValueError:
            out.append((ev.event, ev.data))
    return out
