"""The canonical conversation model (protocols.md §3): the hub every wire format converts to."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Provider = Literal["openai", "anthropic", "gemini"]
Origin = Literal["openai", "anthropic", "gemini", "foreign"]
ClientFormat = Literal["chat", "completions", "responses", "anthropic", "gemini"]
Role = Literal["user", "assistant"]
StopReason = Literal[
    "end_turn",
    "stop_sequence",
    "max_tokens",
    "tool_use",
    "content_filter",
    "context_window_exceeded",
    "pause_turn",
    "other",
]
ToolChoiceMode = Literal["auto", "none", "required", "tool"]
ThinkingMode = Literal["unset", "off", "on"]
Effort = Literal["minimal", "low", "medium", "high", "xhigh", "max"]
OutputKind = Literal["text", "json_object", "json_schema"]

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class Signature:
    """An opaque thinking signature and the provider that minted it (§4.7)."""

    provider: Provider
    value: str


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class MediaPart:
    """Image, PDF or audio: inline base64 `data` or a `url`."""

    mime_type: str | None
    data: str | None = None
    url: str | None = None
    filename: str | None = None


@dataclass(frozen=True)
class ToolCallPart:
    id: str
    name: str
    arguments: JsonObject
    signature: Signature | None = None


@dataclass(frozen=True)
class ToolResultPart:
    call_id: str
    name: str
    content: tuple[TextPart | MediaPart, ...] = ()
    is_error: bool = False

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.content if isinstance(p, TextPart))


@dataclass(frozen=True)
class ThinkingPart:
    """Reasoning text; `redacted` thinking keeps its opaque data in `signature`."""

    text: str
    signature: Signature | None = None
    redacted: bool = False
    origin: Origin = "foreign"


Part = TextPart | MediaPart | ToolCallPart | ToolResultPart | ThinkingPart


@dataclass(frozen=True)
class Message:
    role: Role
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class ToolOrigin:
    """How the client declared a tool, so answers show the client's own view."""

    kind: Literal["function", "custom"] = "function"
    namespace: str | None = None
    client_name: str = ""


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str = ""
    schema: JsonObject = field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None
    origin: ToolOrigin = ToolOrigin()


@dataclass(frozen=True)
class ToolChoice:
    mode: ToolChoiceMode
    name: str | None = None


@dataclass(frozen=True)
class Params:
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None


@dataclass(frozen=True)
class ThinkingConfig:
    mode: ThinkingMode = "unset"
    budget_tokens: int | None = None
    effort: Effort | None = None
    include_thoughts: bool = True


@dataclass(frozen=True)
class OutputFormat:
    kind: OutputKind = "text"
    name: str = "response"
    schema: JsonObject | None = None
    strict: bool | None = None


@dataclass(frozen=True)
class Request:
    """A client request in canonical form; `model` is the client model until routing."""

    model: str
    messages: tuple[Message, ...]
    system: tuple[str, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    params: Params = Params()
    thinking: ThinkingConfig = ThinkingConfig()
    output_format: OutputFormat = OutputFormat()
    stream: bool = False
    stream_usage: bool = False
    user: str | None = None
    client_format: ClientFormat = "chat"
    include_carriers: bool = True


@dataclass(frozen=True)
class Usage:
    """Token counts; cache reads and writes lie inside `input_total`, reasoning in output."""

    input_total: int = 0
    cache_read: int = 0
    cache_write: int = 0
    output_total: int = 0
    reasoning: int = 0

    @property
    def total(self) -> int:
        return self.input_total + self.output_total


@dataclass(frozen=True)
class Response:
    id: str
    model: str
    parts: tuple[Part, ...]
    stop_reason: StopReason = "end_turn"
    stop_sequence: str | None = None
    usage: Usage = Usage()


@dataclass(frozen=True)
class ErrorInfo:
    """A failure to render in the client's language (§6); `code` refines `unavailable`."""

    kind: str
    status: int
    message: str
    retry_after: float | None = None
    code: str | None = None


@dataclass(frozen=True)
class ClientContext:
    """What a client-side encoder needs besides the answer: the request and id/time sources."""

    request: Request
    created: int = 0
    rng: random.Random | None = field(default=None, compare=False)

    @property
    def model(self) -> str:
        return self.request.model


def override_stop(reason: StopReason, saw_call: bool) -> StopReason:
    """Finish with `tool_use` when a call was emitted, unless truncated or filtered (§4.9)."""
    if saw_call and reason in ("end_turn", "stop_sequence", "other"):
        return "tool_use"
    return reason


def int_or_zero(value: object) -> int:
    """A usage count from a provider: non-integers and negatives become 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(0, int(value))


def tool_spec_by_name(tools: tuple[ToolSpec, ...]) -> Mapping[str, ToolSpec]:
    return {t.name: t for t in tools}


@dataclass(frozen=True)
class EncodeOptions:
    """Settings an upstream encoder reads (`[protocols]`, protocols.md §1.4)."""

    gemini_schema_mode: Literal["json_schema", "openapi"] = "json_schema"
    default_max_output_tokens: int = 8192
    catalogue_max_tokens: int | None = None
    openai_max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"


DEFAULT_OPTIONS = EncodeOptions()
