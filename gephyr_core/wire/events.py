"""Canonical stream events (protocols.md §3) and their aggregation into a `Response`."""

from __future__ import annotations

from dataclasses import dataclass

from gephyr_core.wire.canonical import (
    ErrorInfo,
    JsonObject,
    Origin,
    Part,
    Provider,
    Response,
    Signature,
    StopReason,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    Usage,
)
from gephyr_core.wire.jsonx import dumps


@dataclass(frozen=True)
class Start:
    id: str
    model: str
    provider: Provider


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ThinkingDelta:
    text: str


@dataclass(frozen=True)
class SignatureDelta:
    """Belongs to the open thinking block, else to the next call."""

    signature: Signature


@dataclass(frozen=True)
class RedactedThinking:
    signature: Signature


@dataclass(frozen=True)
class ToolCallStart:
    index: int
    id: str
    name: str


@dataclass(frozen=True)
class ToolCallDelta:
    index: int
    fragment: str


@dataclass(frozen=True)
class ToolCallEnd:
    index: int
    arguments: JsonObject


@dataclass(frozen=True)
class UsageUpdate:
    """Cumulative usage; the latest wins."""

    usage: Usage


@dataclass(frozen=True)
class Finish:
    stop_reason: StopReason
    stop_sequence: str | None = None


@dataclass(frozen=True)
class StreamError:
    error: ErrorInfo


Event = (
    Start
    | TextDelta
    | ThinkingDelta
    | SignatureDelta
    | RedactedThinking
    | ToolCallStart
    | ToolCallDelta
    | ToolCallEnd
    | UsageUpdate
    | Finish
    | StreamError
)


class ResponseBuilder:
    """Folds canonical events into a `Response`: a non-stream answer from a stream (§1.3)."""

    def __init__(self) -> None:
        self.id = ""
        self.model = ""
        self.origin: Origin = "foreign"
        self.parts: list[Part] = []
        self.usage = Usage()
        self.finish: Finish | None = None
        self.error: ErrorInfo | None = None
        self._pending_sig: Signature | None = None
        self._call: tuple[str, str] | None = None
        self._thinking_at: int | None = None
        self._since_thinking = 0

    def add(self, event: Event) -> None:
        if isinstance(event, TextDelta | ThinkingDelta):
            self._delta(event)
        elif isinstance(event, SignatureDelta):
            self._signature(event.signature)
        elif isinstance(event, RedactedThinking):
            self.parts.append(ThinkingPart("", event.signature, True, event.signature.provider))
        elif isinstance(event, ToolCallStart):
            self._call = (event.id, event.name)
        elif isinstance(event, ToolCallEnd) and self._call is not None:
            sig, self._pending_sig = self._pending_sig, None
            self.parts.append(ToolCallPart(self._call[0], self._call[1], event.arguments, sig))
            self._call = None
        elif isinstance(event, Start):
            self.id, self.model, self.origin = event.id, event.model, event.provider
        elif isinstance(event, UsageUpdate):
            self.usage = event.usage
        elif isinstance(event, Finish):
            self.finish = event
        elif isinstance(event, StreamError):
            self.error = event.error
        self._since_thinking += 1

    def _delta(self, event: TextDelta | ThinkingDelta) -> None:
        last = self.parts[-1] if self.parts else None
        if isinstance(event, TextDelta):
            if isinstance(last, TextPart):
                self.parts[-1] = TextPart(last.text + event.text)
            else:
                self.parts.append(TextPart(event.text))
            return
        if isinstance(last, ThinkingPart) and not last.redacted and not last.signature:
            self.parts[-1] = ThinkingPart(last.text + event.text, None, False, last.origin)
        else:
            self.parts.append(ThinkingPart(event.text, None, False, self.origin))
        self._thinking_at, self._since_thinking = len(self.parts) - 1, -1

    def _signature(self, sig: Signature) -> None:
        """Lands on the thinking part still open or closed one event ago, else the next call."""
        at = self._thinking_at
        if at is not None and self._since_thinking <= 1:
            part = self.parts[at]
            if isinstance(part, ThinkingPart) and part.signature is None:
                self.parts[at] = ThinkingPart(part.text, sig, False, part.origin)
                self._thinking_at = None
                return
        self._pending_sig = sig

    def build(self) -> Response:
        fin = self.finish or Finish("end_turn")
        return Response(
            self.id, self.model, tuple(self.parts), fin.stop_reason, fin.stop_sequence, self.usage
        )


def aggregate(events: list[Event]) -> Response:
    """Fold a complete event list into a `Response` (the error, if any, is ignored)."""
    builder = ResponseBuilder()
    for event in events:
        builder.add(event)
    return builder.build()


def response_events(response: Response, provider: Provider) -> list[Event]:
    """Replay a `Response` as the canonical event sequence a decoder would produce."""
    events: list[Event] = [Start(response.id, response.model, provider)]
    index = 0
    for part in response.parts:
        if isinstance(part, TextPart) and part.text:
            events.append(TextDelta(part.text))
        elif isinstance(part, ThinkingPart):
            if part.redacted and part.signature:
                events.append(RedactedThinking(part.signature))
                continue
            if part.text:
                events.append(ThinkingDelta(part.text))
            if part.signature:
                events.append(SignatureDelta(part.signature))
        elif isinstance(part, ToolCallPart):
            if part.signature:
                events.append(SignatureDelta(part.signature))
            events.append(ToolCallStart(index, part.id, part.name))
            events.append(ToolCallDelta(index, dumps(part.arguments)))
            events.append(ToolCallEnd(index, part.arguments))
            index += 1
    events.append(UsageUpdate(response.usage))
    events.append(Finish(response.stop_reason, response.stop_sequence))
    return events
