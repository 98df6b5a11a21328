"""Media helpers: data URLs, Files-API URIs, audio formats (protocols.md §4.1)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from gephyr_core.wire.canonical import MediaPart, Message, Part, TextPart, ToolResultPart

_DATA_URL = re.compile(r"^data:([^;,]*)(?:;[^,]*)?;base64,(.*)$", re.DOTALL)
ANTHROPIC_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def from_url(url: str, filename: str | None = None) -> MediaPart:
    """A data URL becomes inline base64; anything else stays a URL."""
    match = _DATA_URL.match(url)
    if match:
        return MediaPart(match.group(1) or None, match.group(2), None, filename)
    return MediaPart(None, None, url, filename)


def standard_base64(data: str) -> str:
    """Base64url (google-genai sends it) as standard base64, which every provider accepts."""
    return data.replace("-", "+").replace("_", "/")


def to_data_url(part: MediaPart) -> str:
    if part.data is None:
        return part.url or ""
    return f"data:{part.mime_type or 'application/octet-stream'};base64,{part.data}"


def is_files_api_uri(url: str) -> bool:
    """A Gemini Files-API URI: usable only toward gemini."""
    return "generativelanguage.googleapis.com/" in url and "/files/" in url


def is_http_url(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def media_urls(messages: Sequence[Message]) -> list[str]:
    """Unfetched http(s) URLs of a history; the relay inlines them for gemini (§1.4)."""
    urls: list[str] = []
    for message in messages:
        for part in message.parts:
            inner = part.content if isinstance(part, ToolResultPart) else (part,)
            for p in inner:
                url = p.url if isinstance(p, MediaPart) else None
                if url and is_http_url(url) and not is_files_api_uri(url):
                    urls.append(url)
    return urls


def inline_media(
    messages: Sequence[Message], fetched: Mapping[str, MediaPart]
) -> tuple[Message, ...]:
    """Replace URL media by fetched inline parts (`fetched` maps URL → inline MediaPart)."""

    def swap(p: TextPart | MediaPart) -> TextPart | MediaPart:
        if isinstance(p, MediaPart) and p.url is not None and p.url in fetched:
            got = fetched[p.url]
            return MediaPart(got.mime_type or p.mime_type, got.data, None, p.filename)
        return p

    out: list[Message] = []
    for message in messages:
        parts: list[Part] = []
        for part in message.parts:
            if isinstance(part, ToolResultPart):
                content = tuple(swap(c) for c in part.content)
                part = ToolResultPart(part.call_id, part.name, content, part.is_error)
            elif isinstance(part, MediaPart):
                part = swap(part)
            parts.append(part)
        out.append(Message(message.role, tuple(parts)))
    return tuple(out)


def audio_format(mime: str | None) -> str:
    """`audio/wav` → `wav` (chat `input_audio.format`)."""
    if not mime or "/" not in mime:
        return "wav"
    sub = mime.split("/", 1)[1]
    return {"mpeg": "mp3", "x-wav": "wav", "wave": "wav"}.get(sub, sub)
