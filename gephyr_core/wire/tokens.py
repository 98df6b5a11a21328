"""The token-count estimate used when no native count is available (protocols.md §7)."""

from __future__ import annotations

import math

from gephyr_core.wire.canonical import MediaPart, Request, TextPart, ToolCallPart, ToolResultPart
from gephyr_core.wire.jsonx import dumps

PER_MESSAGE = 3
PER_MEDIA = 1600


def estimate_tokens(request: Request) -> int:
    """⌈ASCII chars / 4⌉ + non-ASCII chars of counted texts, + 3 per message, + 1,600 per media."""
    texts: list[str] = list(request.system)
    media = 0
    for message in request.messages:
        for part in message.parts:
            if isinstance(part, TextPart):
                texts.append(part.text)
            elif isinstance(part, MediaPart):
                media += 1
            elif isinstance(part, ToolCallPart):
                texts += [part.name, dumps(part.arguments)]
            elif isinstance(part, ToolResultPart):
                for item in part.content:
                    if isinstance(item, TextPart):
                        texts.append(item.text)
                    else:
                        media += 1
    for tool in request.tools:
        texts.append(
            dumps({"name": tool.name, "description": tool.description, "schema": tool.schema})
        )
    ascii_chars = sum(1 for t in texts for ch in t if ch.isascii())
    other = sum(len(t) for t in texts) - ascii_chars
    return (
        math.ceil(ascii_chars / 4) + other + PER_MESSAGE * len(request.messages) + PER_MEDIA * media
    )
