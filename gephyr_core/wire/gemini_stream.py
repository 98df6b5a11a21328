"""Gemini streams: upstream chunks → canonical events (§5.1), events → client frames (§5.2)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from gephyr_core.wire.anthropic_stream import interruption
from gephyr_core.wire.canonical import (
    ClientContext,
    ErrorInfo,
    Origin,
    Signature,
    StopReason,
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
from gephyr_core.wire.gemini import (
    STOP_TO,
    decode_usage,
    encode_usage,
    first_call_signature,
    stop_from,
)
from gephyr_core.wire.gemini_request import g
from gephyr_core.wire.ids import UpstreamContext, mint_id
from gephyr_core.wire.jsonx import arguments_object, dumpb, dumps
from gephyr_core.wire.sse import gemini_sse_frame


class GeminiStreamDecoder:
    """Feed each upstream `alt=sse` data payload; `close()` at EOF releases the held finish."""

    def __init__(self, ctx: UpstreamContext) -> None:
        self._ctx = ctx
        self._minter = ctx.minter()
        self._started = False
        self._calls = 0
        self._usage: Usage | None = None
        self._finish: StopReason | None = None
        self._done = False

    def feed(self, data: str, event: str | None = None) -> list[Event]:
        if self._done:
            return []
        try:
            payload = json.loads(data)
        except ValueError:
            return []
        if isinstance(payload, list):  # the JSON-array stream delivers lists of chunks
            return [
                e for item in payload if isinstance(item, Mapping) for e in self.feed_payload(item)
            ]
        return self.feed_payload(payload) if isinstance(payload, Mapping) else []

    def feed_payload(self, chunk: Mapping[str, Any]) -> list[Event]:
        if self._done:
            return []
        if isinstance(chunk.get("error"), Mapping):
            self._done = True
            err = chunk["error"]
            kind = "overloaded" if err.get("status") == "UNAVAILABLE" else "upstream_error"
            return [
                StreamError(
                    ErrorInfo(kind, int(err.get("code") or 500), str(err.get("message") or "error"))
                )
            ]
        out: list[Event] = []
        if not self._started:
            self._started = True
            out.append(
                Start(
                    str(g(chunk, "responseId") or ""), str(g(chunk, "modelVersion") or ""), "gemini"
                )
            )
        if (meta := g(chunk, "usageMetadata")) is not None:
            self._usage = decode_usage(meta)
        feedback = g(chunk, "promptFeedback")
        if isinstance(feedback, Mapping) and g(feedback, "blockReason"):
            self._finish = "content_filter"
        candidates = chunk.get("candidates")
        cand = (
            candidates[0]
            if isinstance(candidates, list) and candidates and isinstance(candidates[0], Mapping)
            else {}
        )
        assert isinstance(cand, Mapping)
        content = cand.get("content")
        parts = g(content, "parts") if isinstance(content, Mapping) else None
        for part in parts if isinstance(parts, list) else []:
            if isinstance(part, Mapping):
                out += self._part(part)
        reason = g(cand, "finishReason")
        if isinstance(reason, str) and reason:
            self._finish = stop_from(reason)
        return out

    def _part(self, part: Mapping[str, Any]) -> list[Event]:
        raw_sig = g(part, "thoughtSignature")
        sig: list[Event] = (
            [SignatureDelta(Signature("gemini", raw_sig))]
            if isinstance(raw_sig, str) and raw_sig
            else []
        )
        text = part.get("text")
        if isinstance(text, str):
            body: list[Event] = []
            if text:
                body.append(ThinkingDelta(text) if part.get("thought") is True else TextDelta(text))
            return [*body, *sig]
        call = g(part, "functionCall")
        if isinstance(call, Mapping):
            k = self._calls
            self._calls += 1
            args = arguments_object(call.get("args"))
            name = self._ctx.client_name(str(call.get("name") or ""))
            return [
                *sig,
                ToolCallStart(k, self._minter.take(call.get("id")), name),
                ToolCallDelta(k, dumps(args)),
                ToolCallEnd(k, args),
            ]
        code = g(part, "executableCode")
        if isinstance(code, Mapping) and code.get("code"):
            return [
                TextDelta(f"```{str(code.get('language') or '').lower()}\n{code['code']}\n```"),
                *sig,
            ]
        result = g(part, "codeExecutionResult")
        if isinstance(result, Mapping) and result.get("output"):
            return [TextDelta(str(result["output"])), *sig]
        return sig

    def close(self) -> list[Event]:
        """EOF: usage then the held finish (`tool_use` when a call was seen), else interruption."""
        if self._done:
            return []
        self._done = True
        if self._finish is None:
            return [interruption()]
        out: list[Event] = [UsageUpdate(self._usage)] if self._usage is not None else []
        return [*out, Finish(override_stop(self._finish, self._calls > 0))]


class GeminiStreamEncoder:
    """Canonical events → Gemini client frames: `alt=sse` data lines or a JSON array."""

    def __init__(self, ctx: ClientContext, *, sse: bool = True) -> None:
        self._ctx = ctx
        self._sse = sse
        self._id = mint_id("", ctx.rng)
        self._include = ctx.request.thinking.include_thoughts
        self._held: dict[str, Any] | None = None
        self._thinking: list[ThinkingPart] = []
        self._pending_sig: Signature | None = None
        self._call: tuple[str, str] | None = None
        self._first_call = True
        self._usage = Usage()
        self._origin: Origin = "gemini"
        self._frames = 0
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def keepalive(self) -> bytes:
        return b""  # Gemini parsers reject SSE comments

    def _frame(self, payload: Mapping[str, Any], last: bool = False) -> bytes:
        if self._sse:
            return gemini_sse_frame(payload)
        lead = b"[" if self._frames == 0 else b",\r\n"
        self._frames += 1
        return lead + dumpb(payload) + (b"]" if last else b"")

    def _chunk(self, parts: list[dict[str, Any]], finish: str | None = None) -> dict[str, Any]:
        cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if finish is not None:
            cand["finishReason"] = finish
        chunk: dict[str, Any] = {"candidates": [cand]}
        if finish is not None:
            chunk["usageMetadata"] = encode_usage(self._usage)
        chunk["modelVersion"] = self._ctx.model
        chunk["responseId"] = self._id
        return chunk

    def _hold(self, part: dict[str, Any]) -> bytes:
        out = b""
        if self._held is not None:
            out = self._frame(self._chunk([self._held]))
        self._held = part
        return out

    def _thinking_signed(self, sig: Signature) -> bool:
        if (
            self._thinking
            and self._thinking[-1].signature is None
            and not self._thinking[-1].redacted
        ):
            last = self._thinking[-1]
            self._thinking[-1] = ThinkingPart(last.text, sig, False, last.origin)
            return True
        return False

    def feed(self, event: Event) -> bytes:
        if self._done:
            return b""
        handler = self._handlers.get(type(event))
        return handler(event) if handler is not None else b""

    @property
    def _handlers(self) -> dict[type, Callable[[Any], bytes]]:
        return {
            Start: self._on_start,
            TextDelta: lambda e: self._hold({"text": e.text}) if e.text else b"",
            ThinkingDelta: lambda e: self._on_thinking(e.text) if e.text else b"",
            SignatureDelta: self._on_signature,
            RedactedThinking: self._on_redacted,
            ToolCallStart: self._on_call_start,
            ToolCallEnd: lambda e: self._on_call(e.arguments) if self._call else b"",
            UsageUpdate: self._on_usage,
            Finish: self._on_finish,
            StreamError: lambda e: self._on_error(e.error),
        }

    def _on_start(self, event: Start) -> bytes:
        self._origin = event.provider
        return b""

    def _on_signature(self, event: SignatureDelta) -> bytes:
        if not self._thinking_signed(event.signature):
            self._pending_sig = event.signature
        return b""

    def _on_redacted(self, event: RedactedThinking) -> bytes:
        self._thinking.append(ThinkingPart("", event.signature, True, event.signature.provider))
        return b""

    def _on_call_start(self, event: ToolCallStart) -> bytes:
        self._call = (event.id, event.name)
        return b""

    def _on_usage(self, event: UsageUpdate) -> bytes:
        self._usage = event.usage
        return b""

    def _on_finish(self, event: Finish) -> bytes:
        self._done = True
        parts = [self._held] if self._held is not None else []
        return self._frame(self._chunk(parts, STOP_TO[event.stop_reason]), last=True)

    def _on_thinking(self, text: str) -> bytes:
        last = self._thinking[-1] if self._thinking else None
        if last is not None and last.signature is None and not last.redacted:
            self._thinking[-1] = ThinkingPart(last.text + text, None, False, last.origin)
        else:
            self._thinking.append(ThinkingPart(text, None, False, self._origin))
        return self._hold({"text": text, "thought": True}) if self._include else b""

    def _on_call(self, args: dict[str, Any]) -> bytes:
        assert self._call is not None
        call = {"id": self._call[0], "name": self._call[1], "args": args}
        part: dict[str, Any] = {"functionCall": call}
        own, self._pending_sig = self._pending_sig, None
        if self._first_call:
            value = first_call_signature(self._thinking, own)
        else:
            value = own.value if own is not None and own.provider == "gemini" else None
        if value:
            part["thoughtSignature"] = value
        self._first_call, self._call = False, None
        return self._hold(part)

    def _on_error(self, error: ErrorInfo) -> bytes:
        self._done = True
        overloaded = error.kind == "overloaded"
        payload = {
            "error": {
                "code": 503 if overloaded else 500,
                "message": error.message,
                "status": "UNAVAILABLE" if overloaded else "INTERNAL",
            }
        }
        out = self._frame(self._chunk([self._held])) if self._held is not None else b""
        return out + self._frame(payload, last=True)
