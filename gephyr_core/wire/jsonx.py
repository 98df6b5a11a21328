"""Compact JSON and tool-argument parsing shared by every converter."""

from __future__ import annotations

import json
from typing import Any


def dumps(obj: object) -> str:
    """Compact single-line UTF-8 JSON, the only form Gephyr emits (§1.2)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def dumpb(obj: object) -> bytes:
    """UTF-8 bytes of `dumps`; lone surrogates (legal in JSON escapes) fall back to `\\u` form."""
    try:
        return dumps(obj).encode()
    except UnicodeEncodeError:
        return json.dumps(obj, separators=(",", ":")).encode()


def parse_arguments(text: str | None) -> dict[str, Any]:
    """OpenAI argument text → object: `""` is `{}`, invalid JSON `{"_raw": text}` (§4.4)."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"_raw": text}
    if isinstance(value, dict):
        return value
    return {"_raw": text}


def arguments_object(value: object) -> dict[str, Any]:
    """Arguments given as an object, a JSON string or nothing → object."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        return parse_arguments(value)
    if value is None:
        return {}
    return {"_raw": dumps(value)}


def loads_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
