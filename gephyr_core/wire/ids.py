"""Minted ids, deterministic history-id rewrites and tool-name mapping (protocols.md §4.4)."""

from __future__ import annotations

import hashlib
import random
import re
import secrets
import string
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from gephyr_core.wire.canonical import Provider, Request, ToolCallPart

BASE62 = string.digits + string.ascii_letters
TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
OPENAI_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
GEMINI_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")
GEMINI_BYPASS_SIGNATURE = "skip_thought_signature_validator"


def mint_id(prefix: str, rng: random.Random | None = None) -> str:
    """`prefix` + 24 random base62 characters (`chatcmpl-`, `msg_`, `call_`, ...)."""
    if rng is None:
        return prefix + "".join(secrets.choice(BASE62) for _ in range(24))
    return prefix + "".join(rng.choice(BASE62) for _ in range(24))


def sha8(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def is_valid_tool_id(value: object) -> bool:
    return isinstance(value, str) and TOOL_ID.match(value) is not None


def sanitize_history_id(value: str) -> str:
    """Invalid id → invalid characters as `_` + `_` + 8 hex of SHA-256(id), within 64."""
    if is_valid_tool_id(value):
        return value
    cleaned = re.sub(r"[^a-zA-Z0-9_-]", "_", value)[:55]
    return f"{cleaned}_{sha8(value)}"


class IdMinter:
    """Keeps tool-call ids of one answer valid and unique, minting `call_…` when needed."""

    def __init__(self, used: Collection[str] = (), rng: random.Random | None = None) -> None:
        self._used = set(used)
        self._rng = rng

    def take(self, candidate: object) -> str:
        if isinstance(candidate, str) and is_valid_tool_id(candidate):
            if candidate not in self._used:
                self._used.add(candidate)
                return candidate
        minted = mint_id("call_", self._rng)
        while minted in self._used:
            minted = mint_id("call_", self._rng)
        self._used.add(minted)
        return minted


def upstream_tool_name(name: str, provider: Provider) -> str:
    """A name valid for `provider`: unchanged when valid, else cleaned, cut and hashed."""
    pattern = GEMINI_NAME if provider == "gemini" else OPENAI_NAME
    if pattern.match(name):
        return name
    if provider == "gemini":
        cleaned = re.sub(r"[^A-Za-z0-9_.:-]", "_", name)
        if (
            not cleaned
            or not (cleaned[0].isalpha() or cleaned[0] == "_")
            or not cleaned[0].isascii()
        ):
            cleaned = "_" + cleaned
    else:
        cleaned = re.sub(r"[^a-zA-Z0-9_-]", "_", name)
    return f"{cleaned[:55]}_{sha8(name)}"


@dataclass(frozen=True)
class UpstreamContext:
    """What an upstream decoder needs: name reverse map, history ids, the id source."""

    provider: Provider
    names: Mapping[str, str] = field(default_factory=dict)
    used_ids: frozenset[str] = frozenset()
    rng: random.Random | None = field(default=None, compare=False)

    @classmethod
    def for_request(
        cls, request: Request, provider: Provider, rng: random.Random | None = None
    ) -> UpstreamContext:
        """Reverse names from the request's tools; ids already used in its history."""
        names = {upstream_tool_name(t.name, provider): t.name for t in request.tools}
        ids = [p.id for m in request.messages for p in m.parts if isinstance(p, ToolCallPart)]
        used = frozenset(ids) | {sanitize_history_id(i) for i in ids}
        return cls(provider, names, used, rng)

    def client_name(self, upstream_name: str) -> str:
        """Canonical name of a returned tool name; unknown names pass unchanged."""
        return self.names.get(upstream_name, upstream_name)

    def minter(self) -> IdMinter:
        return IdMinter(self.used_ids, self.rng)
