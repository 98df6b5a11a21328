"""OpenAI chat streams: upstream chunks → canonical events (§5.1), events → client SSE (§5.2)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gephyr_core.wire import carrier
from gephyr_core.wire.anthropic_stream import interruption
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
from gephyr_core.wire.openai_chat import STOP_FROM, STOP_TO, decode_usage, encode_usage
from gephyr_core.wire.sse import DONE, KEEPALIVE_COMMENT, data_frame


@dataclass
class _Call:
    raw_id: str | None
    name: str = ""
    args: list[str] = field(default_factory=list)
    started: bool = False
    sent: int = 0


class OpenAIChatStreamDecoder:
    """Feed the data of each upstream SSE event (including `[DONE]`); `close()` at EOF."""

    def __init__(self, ctx: UpstreamContext) -> None:
        self._ctx = ctx
        self._minter = ctx.minter()
        self._started = False
        self._calls: list[_Call] = []
        self._by_index: dict[int, _Call] = {}
        self._ids: dict[int, str] = {}
        self._trailing: list[Event] = []
        self._finish: str | None = None
        self._usage: Usage | None = None
        self._done = False

    def feed(self, data: str, event: str | None = None) -> list[Event]:
        if self._done:
            return []
        if data.strip() == "[DONE]":
            return self._end()
        try:
            payload = json.loads(data)
        except ValueError:
            return []
        return self.feed_payload(payload) if isinstance(payload, Mapping) else []

    def feed_payload(self, chunk: Mapping[str, Any]) -> list[Event]:
        if isinstance(chunk.get("error"), Mapping):
            self._done = True
            message = str(chunk["error"].get("message") or "upstream error")
            return [StreamError(ErrorInfo("upstream_error", 500, message))]
        out: list[Event] = []
        if not self._started:
            self._started = True
            out.append(Start(str(chunk.get("id") or ""), str(chunk.get("model") or ""), "openai"))
        if isinstance(chunk.get("usage"), Mapping):
            self._usage = decode_usage(chunk["usage"])
            out.append(UsageUpdate(self._usage))
        choices = chunk.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
            out += self._choice(choices[0])
        return out

    def _choice(self, choice: Mapping[str, Any]) -> list[Event]:
        out: list[Event] = []
        delta = choice.get("delta")
        delta = delta if isinstance(delta, Mapping) else {}
        for key in ("reasoning_content", "reasoning", "content", "refusal"):
            text = delta.get(key)
            if isinstance(text, str) and text:
                kind = ThinkingDelta if key.startswith("reasoning") else TextDelta
                self._content(kind(text), out)
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, Mapping):
                out += self._tool_fragment(call)
        if isinstance(choice.get("finish_reason"), str):
            self._finish = choice["finish_reason"]
        return out

    def _content(self, event: TextDelta | ThinkingDelta, out: list[Event]) -> None:
        # once a call has started, later content waits so calls never interleave with it
        (self._trailing if self._calls else out).append(event)

    def _tool_fragment(self, call: Mapping[str, Any]) -> list[Event]:
        index = call.get("index")
        raw_id = call.get("id") if isinstance(call.get("id"), str) and call.get("id") else None
        current = (
            self._by_index.get(index)
            if isinstance(index, int)
            else (self._calls[-1] if self._calls else None)
        )
        if current is None or (raw_id and current.raw_id and raw_id != current.raw_id):
            current = _Call(raw_id)
            self._calls.append(current)
            if isinstance(index, int):
                self._by_index[index] = current
        elif raw_id and current.raw_id is None:
            current.raw_id = raw_id
        fn = call.get("function") if isinstance(call.get("function"), Mapping) else {}
        assert isinstance(fn, Mapping)
        if isinstance(fn.get("name"), str) and fn["name"] and not current.name:
            current.name = fn["name"]
        args = fn.get("arguments")
        if isinstance(args, Mapping):
            args = dumps(args)
        if isinstance(args, str) and args:
            current.args.append(args)
        if current is self._calls[0]:
            return self._stream_live(current)
        return []

    def _start(self, call: _Call, k: int) -> ToolCallStart:
        call.started = True
        self._ids[k] = self._minter.take(call.raw_id)
        return ToolCallStart(k, self._ids[k], self._ctx.client_name(call.name))

    def _stream_live(self, call: _Call) -> list[Event]:
        out: list[Event] = []
        if not call.started:
            if not call.name:
                return out
            out.append(self._start(call, 0))
        pending = "".join(call.args[call.sent :])
        call.sent = len(call.args)
        if pending:
            out.append(ToolCallDelta(0, pending))
        return out

    def _end(self) -> list[Event]:
        if self._finish is None:
            return self.close()
        self._done = True
        out: list[Event] = []
        k = 0
        for i, call in enumerate(c for c in self._calls if c.name):
            if i == 0 and call is self._calls[0]:
                out += self._stream_live(call)
            else:
                out.append(self._start(call, k))
                if call.args:
                    out.append(ToolCallDelta(k, "".join(call.args)))
            out.append(ToolCallEnd(k, parse_arguments("".join(call.args))))
            k += 1
        out += self._trailing
        if self._usage is not None:
            out.append(UsageUpdate(self._usage))
        reason = override_stop(STOP_FROM.get(self._finish, "other"), k > 0)
        out.append(Finish(reason))
        return out

    def close(self) -> list[Event]:
        """EOF: a finish already seen ends normally, else the stream was interrupted."""
        if self._done:
            return []
        if self._finish is not None:
            return self._end()
        self._done = True
        return [interruption()]


def stream_error_payload(error: ErrorInfo) -> dict[str, Any]:
    """The in-band error of chat and completions streams (§6)."""
    return {
        "error": {
            "message": error.message,
            "type": "upstream_error",
            "param": None,
            "code": "stream_interrupted",
        }
    }


class OpenAIChatStreamEncoder:
    """Canonical events → Chat Completions client SSE chunks, `[DONE]` after the finish."""

    def __init__(self, ctx: ClientContext) -> None:
        self._ctx = ctx
        self._id = mint_id("chatcmpl-", ctx.rng)
        self._usage = Usage()
        self._last: str | None = None
        self._thinking: list[str] = []
        self._pending_sig: Signature | None = None
        self._next_tool_index = 0
        self._k = -1
        self._sent_args = False
        self._started = False
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def keepalive(self) -> bytes:
        return b"" if self._done else KEEPALIVE_COMMENT

    def _chunk(self, delta: Mapping[str, Any], finish: str | None = None) -> bytes:
        chunk: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._ctx.created,
            "model": self._ctx.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        if self._ctx.request.stream_usage:
            chunk["usage"] = None
        return data_frame(chunk)

    def feed(self, event: Event) -> bytes:
        if self._done:
            return b""
        out = b""
        if not self._started and not isinstance(event, StreamError | UsageUpdate):
            self._started = True
            out += self._chunk({"role": "assistant", "content": ""})
        handler = self._handlers.get(type(event))
        return out + handler(event) if handler is not None else out

    @property
    def _handlers(self) -> dict[type, Callable[[Any], bytes]]:
        return {
            TextDelta: self._on_text,
            ThinkingDelta: self._on_thinking,
            SignatureDelta: self._on_signature,
            RedactedThinking: self._on_redacted,
            ToolCallStart: self._on_call_start,
            ToolCallDelta: self._on_call_delta,
            ToolCallEnd: self._on_call_end,
            UsageUpdate: self._on_usage,
            Finish: self._on_finish,
            StreamError: self._on_error,
        }

    def _on_text(self, event: TextDelta) -> bytes:
        if not event.text:
            return b""
        self._last = "text"
        return self._chunk({"content": event.text})

    def _on_thinking(self, event: ThinkingDelta) -> bytes:
        if not event.text:
            return b""
        if self._last != "thinking":
            self._thinking = []
        self._last = "thinking"
        self._thinking.append(event.text)
        return self._chunk({"reasoning_content": event.text})

    def _on_signature(self, event: SignatureDelta) -> bytes:
        sig = event.signature
        if self._last != "thinking":
            self._pending_sig = sig
            return b""
        part = ThinkingPart("".join(self._thinking), sig, False, sig.provider)
        block = {
            "type": "thinking",
            "thinking": part.text,
            "signature": carrier.write_slot(part, "anthropic"),
        }
        self._last = "signed"
        return self._chunk({"thinking_blocks": [block]})

    def _on_redacted(self, event: RedactedThinking) -> bytes:
        sig = event.signature
        data = sig.value
        if sig.provider != "anthropic":
            data = carrier.encode_carrier(sig.provider, [ThinkingPart("", sig, True, sig.provider)])
        self._last = "signed"
        return self._chunk({"thinking_blocks": [{"type": "redacted_thinking", "data": data}]})

    def _on_call_start(self, event: ToolCallStart) -> bytes:
        self._k, self._next_tool_index = self._next_tool_index, self._next_tool_index + 1
        self._last, self._sent_args = "call", False
        fn = {"name": event.name, "arguments": ""}
        call: dict[str, Any] = {
            "index": self._k,
            "id": event.id,
            "type": "function",
            "function": fn,
        }
        if self._pending_sig is not None:
            sig = self._pending_sig
            value = carrier.write_slot(ThinkingPart("", sig, False, sig.provider), "gemini")
            call["extra_content"] = {"google": {"thought_signature": value}}
            self._pending_sig = None
        return self._chunk({"tool_calls": [call]})

    def _args_chunk(self, fragment: str) -> bytes:
        self._sent_args = True
        return self._chunk(
            {"tool_calls": [{"index": self._k, "function": {"arguments": fragment}}]}
        )

    def _on_call_delta(self, event: ToolCallDelta) -> bytes:
        return self._args_chunk(event.fragment) if event.fragment else b""

    def _on_call_end(self, event: ToolCallEnd) -> bytes:
        # an empty argument string does not parse: an argument-less call still gets "{}"
        return b"" if self._sent_args else self._args_chunk(dumps(event.arguments))

    def _on_usage(self, event: UsageUpdate) -> bytes:
        self._usage = event.usage
        return b""

    def _on_finish(self, event: Finish) -> bytes:
        self._done = True
        out = self._chunk({}, STOP_TO[event.stop_reason])
        if self._ctx.request.stream_usage:
            out += data_frame(self._usage_chunk())
        return out + DONE

    def _on_error(self, event: StreamError) -> bytes:
        self._done = True
        return data_frame(stream_error_payload(event.error))

    def _usage_chunk(self) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._ctx.created,
            "model": self._ctx.model,
            "choices": [],
            "usage": encode_usage(self._usage),
        }
