"""The `gph1.` carrier: thinking handed to a client of another family (protocols.md §4.7).

`gph1.<p>.<b64>` with `p` ∈ a (anthropic), g (gemini), o (openai) and `b64` the unpadded
base64url of compact JSON `[{"t": text, "s": signature} | {"r": redacted_data}]`. Carriers
for `a` and `o` embed the text (it survives clients that alter it and wins on decode); `g`
embeds only the signature. Native signatures never contain a `.`, so an untagged value in a
slot belongs to that slot's own provider.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

from gephyr_core.wire.canonical import Provider, Signature, ThinkingPart
from gephyr_core.wire.jsonx import dumpb

PREFIX = "gph1."
_CODES: dict[Provider, str] = {"anthropic": "a", "gemini": "g", "openai": "o"}
_PROVIDERS: dict[str, Provider] = {v: k for k, v in _CODES.items()}


def is_carrier(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def encode_carrier(provider: Provider, parts: Sequence[ThinkingPart]) -> str:
    """Wrap thinking parts minted by `provider` into one carrier string."""
    items: list[dict[str, str]] = []
    for part in parts:
        sig = part.signature.value if part.signature else None
        if part.redacted and sig is not None:
            items.append({"r": sig})
            continue
        item: dict[str, str] = {}
        if provider != "gemini":
            item["t"] = part.text
        if sig is not None:
            item["s"] = sig
        if item:
            items.append(item)
    raw = base64.urlsafe_b64encode(dumpb(items)).decode().rstrip("=")
    return f"{PREFIX}{_CODES[provider]}.{raw}"


def decode_carrier(value: str, text: str = "") -> list[ThinkingPart] | None:
    """Thinking parts from a carrier; `text` fills gemini items. Malformed → None (dropped)."""
    if not is_carrier(value):
        return None
    code, _, raw = value[len(PREFIX) :].partition(".")
    provider = _PROVIDERS.get(code)
    if provider is None:
        return None
    try:
        items = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, TypeError):
        return None
    if not isinstance(items, list):
        return None
    parts: list[ThinkingPart] = []
    for item in items:
        if not isinstance(item, dict):
            return None
        if isinstance(item.get("r"), str):
            parts.append(ThinkingPart("", Signature(provider, item["r"]), True, provider))
            continue
        sig = Signature(provider, item["s"]) if isinstance(item.get("s"), str) else None
        body = item["t"] if isinstance(item.get("t"), str) else (text if not parts else "")
        parts.append(ThinkingPart(body, sig, False, provider))
    return parts


def read_slot(
    value: object, text: str, native: Provider | None, redacted: bool = False
) -> list[ThinkingPart]:
    """Thinking from a client's signature slot: a carrier, else the slot's native provider."""
    if is_carrier(value):
        return decode_carrier(str(value), text) or []
    if isinstance(value, str) and value and native is not None:
        return [ThinkingPart("" if redacted else text, Signature(native, value), redacted, native)]
    if redacted:
        return []
    return [ThinkingPart(text, None, False, native or "foreign")] if text else []


def write_slot(part: ThinkingPart, native: Provider | None) -> str | None:
    """The value a client's slot holds for `part`: native when minted there, else a carrier."""
    sig = part.signature
    if sig is not None and sig.provider == native:
        return sig.value
    if sig is None and part.origin != "openai":
        return None
    provider: Provider = sig.provider if sig is not None else "openai"
    return encode_carrier(provider, [part])
