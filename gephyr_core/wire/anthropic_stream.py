"""Anthropic Messages streams: upstream events → canonical, canonical → client SSE (§5)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from gephyr_core.wire import carrier
from gephyr_core.wire.anthropic_messages import STOP_FROM, STOP_TO, decode_usage, encode_usage
from gephyr_core.wire.canonical import (
    ClientContext,
    ErrorInfo,
    Signature,
    ThinkingPart,
    Usage,
    override_stop,
)
from gephyr_core.wire.events import (
    Event,
    Finish,
    RedactedThinking,
    SignatureDelta,
    Start,
    StreamError,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallEnd,
    ToolCallStart,
    UsageUpdate,
)
from gephyr_core.wire.ids import UpstreamContext, mint_id
from gephyr_core.wire.jsonx import dumps, parse_arguments
from gephyr_core.wire.sse import event_frame

INTERRUPTED = "upstream stream ended before its end event"


def interruption(message: str = INTERRUPTED) -> StreamError:
    return StreamError(ErrorInfo("upstream_error", 502, message))


class AnthropicStreamDecoder:
    """Feed the data (and event name) of each upstream SSE event; `close()` at EOF."""

    def __init__(self, ctx: UpstreamContext) -> None:
        self._ctx = ctx
        self._minter = ctx.minter()
        self._blocks: dict[int, str] = {}
        self._tool_index: dict[int, int] = {}
        self._args: dict[int, list[str]] = {}
        self._calls = 0
        self._usage: dict[str, Any] = {}
        self._stop: tuple[str, str | None] = ("end_turn", None)
        self._done = False

    def feed(self, data: str, event: str | None = None) -> list[Event]:
        if self._done:
            return []
        try:
            payload = json.loads(data)
        except ValueError:
            return []
        return self.feed_payload(payload) if isinstance(payload, Mapping) else []

    def feed_payload(self, payload: Mapping[str, Any]) -> list[Event]:
        handler = {
            "message_start": self._message_start,
            "content_block_start": self._block_start,
            "content_block_delta": self._block_delta,
            "content_block_stop": self._block_stop,
            "message_delta": self._message_delta,
            "message_stop": self._message_stop,
            "error": self._error,
        }.get(str(payload.get("type")))
        return handler(payload) if handler is not None else []

    def _message_start(self, payload: Mapping[str, Any]) -> list[Event]:
        msg = _mapping(payload.get("message"))
        out: list[Event] = [
            Start(str(msg.get("id") or ""), str(msg.get("model") or ""), "anthropic")
        ]
        if isinstance(msg.get("usage"), Mapping):
            self._usage.update(msg["usage"])
            out.append(UsageUpdate(decode_usage(self._usage)))
        return out

    def _block_stop(self, payload: Mapping[str, Any]) -> list[Event]:
        index = int(payload.get("index") or 0)
        if self._blocks.get(index) != "tool_use":
            return []
        args = parse_arguments("".join(self._args[index]))
        return [ToolCallEnd(self._tool_index[index], args)]

    def _message_delta(self, payload: Mapping[str, Any]) -> list[Event]:
        delta = _mapping(payload.get("delta"))
        seq = delta.get("stop_sequence")
        self._stop = (str(delta.get("stop_reason")), seq if isinstance(seq, str) else None)
        if not isinstance(payload.get("usage"), Mapping):
            return []
        self._usage.update({k: v for k, v in payload["usage"].items() if v is not None})
        return [UsageUpdate(decode_usage(self._usage))]

    def _message_stop(self, payload: Mapping[str, Any]) -> list[Event]:
        self._done = True
        reason = override_stop(STOP_FROM.get(self._stop[0], "other"), self._calls > 0)
        return [Finish(reason, self._stop[1] if reason == "stop_sequence" else None)]

    def _error(self, payload: Mapping[str, Any]) -> list[Event]:
        self._done = True
        return [StreamError(_stream_error(payload))]

    def _block_start(self, payload: Mapping[str, Any]) -> list[Event]:
        index = int(payload.get("index") or 0)
        block = payload.get("content_block")
        if not isinstance(block, Mapping):
            return []
        kind = str(block.get("type"))
        self._blocks[index] = kind
        if kind == "text" and block.get("text"):
            return [TextDelta(str(block["text"]))]
        if kind == "thinking" and block.get("thinking"):
            return [ThinkingDelta(str(block["thinking"]))]
        if kind == "redacted_thinking" and isinstance(block.get("data"), str):
            return [RedactedThinking(Signature("anthropic", block["data"]))]
        if kind == "tool_use":
            k = self._calls
            self._calls += 1
            self._tool_index[index] = k
            name = self._ctx.client_name(str(block.get("name") or ""))
            events: list[Event] = [ToolCallStart(k, self._minter.take(block.get("id")), name)]
            initial = block.get("input")
            self._args[index] = []
            if isinstance(initial, Mapping) and initial:
                self._args[index].append(dumps(initial))
                events.append(ToolCallDelta(k, dumps(initial)))
            return events
        return []

    def _block_delta(self, payload: Mapping[str, Any]) -> list[Event]:
        index = int(payload.get("index") or 0)
        delta = payload.get("delta")
        if not isinstance(delta, Mapping):
            return []
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [TextDelta(str(delta["text"]))]
        if kind == "thinking_delta" and delta.get("thinking"):
            return [ThinkingDelta(str(delta["thinking"]))]
        if kind == "signature_delta" and delta.get("signature"):
            return [SignatureDelta(Signature("anthropic", str(delta["signature"])))]
        if kind == "input_json_delta" and delta.get("partial_json") and index in self._tool_index:
            self._args[index].append(str(delta["partial_json"]))
            return [ToolCallDelta(self._tool_index[index], str(delta["partial_json"]))]
        return []

    def close(self) -> list[Event]:
        if self._done:
            return []
        self._done = True
        return [interruption()]


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _stream_error(payload: Mapping[str, Any]) -> ErrorInfo:
    err = _mapping(payload.get("error"))
    kind = str(err.get("type") or "api_error")
    message = str(err.get("message") or kind)
    if kind == "overloaded_error":
        return ErrorInfo("overloaded", 529, message)
    if kind == "rate_limit_error":
        return ErrorInfo("rate_limited", 429, message)
    return ErrorInfo("upstream_error", 500, message)


class AnthropicStreamEncoder:
    """Canonical events → Anthropic client SSE bytes; one block open at a time, indices from 0."""

    def __init__(self, ctx: ClientContext) -> None:
        self._ctx = ctx
        self._id = mint_id("msg_", ctx.rng)
        self._provider = "anthropic"
        self._start_pending = False
        self._started = False
        self._usage = Usage()
        self._index = 0
        self._open: str | None = None
        self._thinking_text: list[str] = []
        self._signed = False
        self._held: Event | None = None
        self._tool_sent = False
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def keepalive(self) -> bytes:
        return b"" if self._done else event_frame({"type": "ping"})

    def feed(self, event: Event) -> bytes:
        if self._done:
            return b""
        out: list[dict[str, Any]] = []
        if isinstance(event, Start):
            self._provider = event.provider
            self._start_pending = True
            return b""
        if isinstance(event, UsageUpdate):
            self._usage = event.usage
            return b""
        if isinstance(event, StreamError):
            kind = "overloaded_error" if event.error.kind == "overloaded" else "api_error"
            self._done = True
            error = {"type": "error", "error": {"type": kind, "message": event.error.message}}
            return event_frame(error)
        self._flush_start(out)
        if self._held is not None:
            held, self._held = self._held, None
            if isinstance(event, SignatureDelta):
                self._signature(event.signature, out)
                self._close(out)
                self._apply(held, out)
                return b"".join(event_frame(p) for p in out)
            self._close(out)
            self._apply(held, out)
        self._apply(event, out)
        return b"".join(event_frame(p) for p in out)

    def _flush_start(self, out: list[dict[str, Any]]) -> None:
        if self._started:
            return
        self._started = True
        usage = encode_usage(
            Usage(self._usage.input_total, self._usage.cache_read, self._usage.cache_write)
        )
        message: dict[str, Any] = {
            "id": self._id,
            "type": "message",
            "role": "assistant",
            "model": self._ctx.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }
        out.append({"type": "message_start", "message": message})

    def _open_block(self, kind: str, block: dict[str, Any], out: list[dict[str, Any]]) -> None:
        self._close(out)
        self._open = kind
        out.append({"type": "content_block_start", "index": self._index, "content_block": block})

    def _delta(self, delta: dict[str, Any], out: list[dict[str, Any]]) -> None:
        out.append({"type": "content_block_delta", "index": self._index, "delta": delta})

    def _close(self, out: list[dict[str, Any]]) -> None:
        if self._open is None:
            return
        if self._open == "thinking" and not self._signed and self._provider == "openai":
            part = ThinkingPart("".join(self._thinking_text), None, False, "openai")
            self._delta(
                {"type": "signature_delta", "signature": carrier.encode_carrier("openai", [part])},
                out,
            )
        out.append({"type": "content_block_stop", "index": self._index})
        self._index += 1
        self._open = None

    def _signature(self, sig: Signature, out: list[dict[str, Any]]) -> None:
        if self._open != "thinking" or self._signed:
            return  # no slot on a tool_use block; the gemini bypass covers the replay
        part = ThinkingPart("".join(self._thinking_text), sig, False, sig.provider)
        value = carrier.write_slot(part, "anthropic")
        if value:
            self._delta({"type": "signature_delta", "signature": value}, out)
            self._signed = True

    def _apply(self, event: Event, out: list[dict[str, Any]]) -> None:
        if self._open == "thinking" and isinstance(
            event, TextDelta | ToolCallStart | RedactedThinking
        ):
            self._held = event  # deferred close: a signature may still arrive for this block
            return
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event, out)

    @property
    def _handlers(self) -> dict[type, Callable[[Any, list[dict[str, Any]]], None]]:
        return {
            TextDelta: self._on_text,
            ThinkingDelta: self._on_thinking,
            SignatureDelta: lambda e, out: self._signature(e.signature, out),
            RedactedThinking: self._on_redacted,
            ToolCallStart: self._on_call_start,
            ToolCallDelta: self._on_call_delta,
            ToolCallEnd: self._on_call_end,
            Finish: self._on_finish,
        }

    def _on_text(self, event: TextDelta, out: list[dict[str, Any]]) -> None:
        if not event.text:
            return
        if self._open != "text":
            self._open_block("text", {"type": "text", "text": ""}, out)
        self._delta({"type": "text_delta", "text": event.text}, out)

    def _on_thinking(self, event: ThinkingDelta, out: list[dict[str, Any]]) -> None:
        if not event.text:
            return
        if self._open != "thinking" or self._signed:
            block = {"type": "thinking", "thinking": "", "signature": ""}
            self._open_block("thinking", block, out)
            self._thinking_text, self._signed = [], False
        self._thinking_text.append(event.text)
        self._delta({"type": "thinking_delta", "thinking": event.text}, out)

    def _on_redacted(self, event: RedactedThinking, out: list[dict[str, Any]]) -> None:
        sig = event.signature
        data = sig.value
        if sig.provider != "anthropic":
            data = carrier.encode_carrier(sig.provider, [ThinkingPart("", sig, True, sig.provider)])
        self._open_block("redacted", {"type": "redacted_thinking", "data": data}, out)
        self._close(out)

    def _on_call_start(self, event: ToolCallStart, out: list[dict[str, Any]]) -> None:
        block = {"type": "tool_use", "id": event.id, "name": event.name, "input": {}}
        self._open_block("tool", block, out)
        self._tool_sent = False

    def _on_call_delta(self, event: ToolCallDelta, out: list[dict[str, Any]]) -> None:
        if event.fragment and self._open == "tool":
            self._delta({"type": "input_json_delta", "partial_json": event.fragment}, out)
            self._tool_sent = True

    def _on_call_end(self, event: ToolCallEnd, out: list[dict[str, Any]]) -> None:
        if self._open != "tool":
            return
        if not self._tool_sent and event.arguments:
            self._delta({"type": "input_json_delta", "partial_json": dumps(event.arguments)}, out)
        self._close(out)

    def _on_finish(self, event: Finish, out: list[dict[str, Any]]) -> None:
        self._close(out)
        reason = event.stop_reason
        seq = event.stop_sequence if reason == "stop_sequence" else None
        delta = {"stop_reason": STOP_TO[reason], "stop_sequence": seq}
        out.append({"type": "message_delta", "delta": delta, "usage": encode_usage(self._usage)})
        out.append({"type": "message_stop"})
        self._done = True
