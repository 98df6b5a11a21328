"""Scripted behaviours and recorded traffic shared by the provider emulators.

A test pushes behaviours onto an :class:`Emulator`; each upstream call of the matching route
pops the first one. ``Reply`` is a provider-neutral answer (rendered in the provider's wire
format), ``Error`` a provider-shaped error, ``Raw`` exact bytes. With nothing queued the
emulator answers ``"echo: <last user text>"`` with usage computed from the request:
one token per whitespace-separated word (see :func:`count_tokens`).
"""

from __future__ import annotations

import re
import secrets
import string
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Route = Literal["generate", "count_tokens", "models", "*"]
StopKind = Literal["end", "max_tokens", "stop_sequence", "tool_use"]

_BASE62 = string.ascii_letters + string.digits
_WORD = re.compile(r"\S+\s*")
# Keys whose string values are structure, ids or binary data, not text the model reads.
_NON_TEXT_KEYS = frozenset(
    "role type id tool_call_id tool_use_id call_id name signature thoughtSignature "
    "thought_signature mimeType mime_type media_type data url fileUri file_uri format "
    "cache_control detail filename".split()
)


def mint_id(prefix: str, size: int = 24) -> str:
    """Return ``prefix`` followed by ``size`` random base62 characters."""
    return prefix + "".join(secrets.choice(_BASE62) for _ in range(size))


def count_tokens(text: str) -> int:
    """The emulators' tokenizer: one token per whitespace-separated word."""
    return len(text.split())


def collect_text(value: Any) -> list[str]:
    """All strings a model would read in a JSON value (ids, roles and binary data skipped)."""
    out: list[str] = []
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for item in value:
            out.extend(collect_text(item))
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _NON_TEXT_KEYS:
                out.extend(collect_text(item))
    return out


def count_value_tokens(*values: Any) -> int:
    """Token count of every text inside the given JSON values."""
    return sum(count_tokens(text) for value in values for text in collect_text(value))


@dataclass
class ToolCall:
    """A function call the model makes; ``id`` is minted when absent (Gemini: omitted)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str | None = None


@dataclass
class Usage:
    """Usage override in canonical terms: ``input`` includes cache, ``output`` reasoning."""

    input: int | None = None
    output: int | None = None
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int | None = None


@dataclass
class Error:
    """A provider-shaped error answer, or an in-band stream error (``Reply.stream_error``).

    ``body`` replaces the rendered body entirely; otherwise ``message``/``type``/``code``
    fill the provider's error shape (defaults follow ``status``). ``retry_after`` sets the
    ``retry-after`` header (Gemini: also a ``RetryInfo`` detail on 429).
    """

    status: int
    message: str | None = None
    type: str | None = None
    code: str | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: float | None = None
    delay: float = 0.0


@dataclass
class Raw:
    """Exact bytes; a list body is sent as separate chunks (``chunk_delay`` between them)."""

    body: bytes | list[bytes] = b""
    status: int = 200
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunk_delay: float = 0.0
    drop_after: int | None = None


@dataclass
class Reply:
    """A model answer rendered in the provider's format, streamed or not as requested.

    ``stop`` is a provider-native stop reason overriding the computed one. Streams: ``delay``
    before the first byte, ``chunk_delay`` between frames, ``chunk_words`` words per text
    delta, ``arg_chunk`` characters per tool-argument delta. ``drop_after=n`` sends n frames
    then aborts the connection mid-body (non-stream: half the body). ``stream_error`` is sent
    in-band after ``error_after`` frames (default: after all content) and the body then ends.
    ``raw_usage`` replaces the provider usage object verbatim.
    """

    text: str = ""
    thinking: str = ""
    signature: str | None = None
    redacted_thinking: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    stop: str | None = None
    usage: Usage | None = None
    raw_usage: dict[str, Any] | None = None
    model: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunk_delay: float = 0.0
    chunk_words: int = 1
    arg_chunk: int = 8
    drop_after: int | None = None
    error_after: int | None = None
    stream_error: Error | None = None


Behaviour = Reply | Error | Raw


@dataclass
class RecordedRequest:
    """One request as the emulator received it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    raw_body: bytes
    route: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class RateLimits:
    """Rate-limit figures advertised in response headers; ``None`` remaining = computed."""

    requests_limit: int = 1000
    tokens_limit: int = 1_000_000
    requests_remaining: int | None = None
    tokens_remaining: int | None = None
    requests_reset_seconds: float = 1.0
    tokens_reset_seconds: float = 360.0


@dataclass
class Output:
    """A reply after applying the request's token budget and stop sequences."""

    thinking: str
    text: str
    tool_calls: list[ToolCall]
    reason: StopKind
    stop_sequence: str | None
    output_tokens: int
    reasoning_tokens: int


def _take_words(text: str, budget: float) -> tuple[str, bool]:
    words = _WORD.findall(text)
    if len(words) <= budget:
        return text, False
    return "".join(words[: int(budget)]).rstrip(), True


def shape_output(reply: Reply, *, max_tokens: int | None, stop: Iterable[str] = ()) -> Output:
    """Apply stop sequences and ``max_tokens`` (thinking, then text, then calls)."""
    budget: float = float("inf") if max_tokens is None else max_tokens
    reason: StopKind = "end"
    thinking, cut = _take_words(reply.thinking, budget)
    budget -= count_tokens(thinking)
    text, calls, stop_sequence = reply.text, list(reply.tool_calls), None
    hits = [(text.find(s), s) for s in stop if s and s in text]
    if hits:
        index, stop_sequence = min(hits)
        text, calls, reason = text[:index], [], "stop_sequence"
    if cut:
        text, calls, reason, stop_sequence = "", [], "max_tokens", None
    text, cut = _take_words(text, budget)
    budget -= count_tokens(text)
    if cut:
        calls, reason, stop_sequence = [], "max_tokens", None
    kept: list[ToolCall] = []
    for call in calls:
        cost = max(1, count_value_tokens(call.arguments))
        if cost > budget:
            reason = "max_tokens"
            break
        budget -= cost
        kept.append(call)
    if kept and reason == "end":
        reason = "tool_use"
    out_tokens = count_tokens(thinking) + count_tokens(text)
    out_tokens += sum(max(1, count_value_tokens(c.arguments)) for c in kept)
    return Output(thinking, text, kept, reason, stop_sequence, out_tokens, count_tokens(thinking))


def resolve_usage(reply: Reply, output: Output, input_tokens: int) -> Usage:
    """Canonical usage: computed counts with the reply's overrides applied."""
    override = reply.usage or Usage()
    return Usage(
        input=input_tokens if override.input is None else override.input,
        output=output.output_tokens if override.output is None else override.output,
        cache_read=override.cache_read,
        cache_write=override.cache_write,
        reasoning=output.reasoning_tokens if override.reasoning is None else override.reasoning,
    )


class Emulator:
    """State of one emulated provider: credentials, script queue and recorded requests.

    Thread-safe: tests push from the main thread while uvicorn serves from its own.
    """

    def __init__(
        self,
        provider: str,
        *,
        api_keys: Iterable[str],
        bearer_tokens: Iterable[str] = (),
        models: Iterable[str] = (),
    ) -> None:
        self.provider = provider
        self.url = ""
        self._defaults = (frozenset(api_keys), frozenset(bearer_tokens), tuple(models))
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget the script and recorded requests; restore keys, models and rate limits."""
        with self._lock:
            self.api_keys: set[str] = set(self._defaults[0])
            self.bearer_tokens: set[str] = set(self._defaults[1])
            self.models: list[str] = list(self._defaults[2])
            self.rate_limits = RateLimits()
            self.used_requests = 0
            self.used_tokens = 0
            self._queue: list[tuple[str, Behaviour]] = []
            self._default: dict[str, Behaviour] = {}
            self._requests: list[RecordedRequest] = []

    def push(self, *items: Behaviour, route: Route = "generate", times: int = 1) -> None:
        """Queue behaviours for the next calls of ``route`` (``"*"``: any route)."""
        with self._lock:
            for _ in range(times):
                self._queue.extend((route, item) for item in items)

    def reply(self, text: str = "", **fields: Any) -> Reply:
        """Queue a :class:`Reply` for the next generation call and return it."""
        item = Reply(text=text, **fields)
        self.push(item)
        return item

    def error(self, status: int, message: str | None = None, **fields: Any) -> Error:
        """Queue an :class:`Error` for the next generation call and return it."""
        item = Error(status=status, message=message, **fields)
        self.push(item)
        return item

    def set_default(self, item: Behaviour | None, *, route: Route = "generate") -> None:
        """Answer every unscripted call of ``route`` with ``item`` (``None``: echo again)."""
        with self._lock:
            if item is None:
                self._default.pop(route, None)
            else:
                self._default[route] = item

    def next_behaviour(self, route: str) -> Behaviour | None:
        with self._lock:
            for index, (wanted, item) in enumerate(self._queue):
                if wanted in (route, "*"):
                    del self._queue[index]
                    return item
            return self._default.get(route) or self._default.get("*")

    @property
    def pending(self) -> int:
        """Number of queued behaviours not consumed yet."""
        with self._lock:
            return len(self._queue)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def count_usage(self, tokens: int) -> None:
        with self._lock:
            self.used_requests += 1
            self.used_tokens += tokens

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received since the last reset."""
        with self._lock:
            return list(self._requests)

    def calls(self, route: str = "generate") -> list[RecordedRequest]:
        """Recorded requests of one route."""
        return [r for r in self.requests if r.route == route]

    def saw(self, needle: str) -> bool:
        """Whether ``needle`` appears in any recorded header, query value or body."""
        for request in self.requests:
            values = [*request.headers.values(), *request.query.values(), request.path]
            if any(needle in v for v in values) or needle.encode() in request.raw_body:
                return True
        return False

    @property
    def last_request(self) -> RecordedRequest:
        requests = self.requests
        if not requests:
            raise AssertionError(f"{self.provider} emulator received no request")
        return requests[-1]

    def remaining(self) -> tuple[int, int]:
        """Remaining (requests, tokens) as advertised in rate-limit headers."""
        limits = self.rate_limits
        requests = limits.requests_remaining
        tokens = limits.tokens_remaining
        if requests is None:
            requests = max(0, limits.requests_limit - self.used_requests)
        if tokens is None:
            tokens = max(0, limits.tokens_limit - self.used_tokens)
        return requests, tokens


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}
