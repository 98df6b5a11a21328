"""OpenAI Responses client streams: canonical events → `response.*` SSE events (§2.3, §5.2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gephyr_core.wire.canonical import (
    ClientContext,
    ErrorInfo,
    Origin,
    Signature,
    ThinkingPart,
    ToolCallPart,
    Usage,
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
from gephyr_core.wire.ids import mint_id
from gephyr_core.wire.jsonx import dumps
from gephyr_core.wire.openai_responses import (
    call_item,
    client_tool,
    message_item,
    reasoning_item,
    response_object,
    status_of,
)
from gephyr_core.wire.sse import KEEPALIVE_COMMENT, event_frame


def error_code(error: ErrorInfo) -> str:
    if error.kind in ("rate_limited", "quota_exhausted"):
        return "rate_limit_exceeded"
    if error.kind == "context_too_long":
        return "context_length_exceeded"
    return "server_error"


class OpenAIResponsesStreamEncoder:
    """Canonical events → Responses SSE; `sequence_number` rises from 0, `output` = done items."""

    def __init__(self, ctx: ClientContext) -> None:
        self._ctx = ctx
        self._id = mint_id("resp_", ctx.rng)
        self._seq = 0
        self._usage = Usage()
        self._origin: Origin = "foreign"
        self._done_items: list[dict[str, Any]] = []
        self._open: str | None = None
        self._item_id = ""
        self._text: list[str] = []
        self._thinking: list[ThinkingPart] = []
        self._call: tuple[str, str] | None = None
        self._custom = False
        self._held: Event | None = None
        self._started = False
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def keepalive(self) -> bytes:
        return b"" if self._done else KEEPALIVE_COMMENT

    def _emit(self, out: list[bytes], kind: str, **fields: Any) -> None:
        out.append(event_frame({"type": kind, "sequence_number": self._seq, **fields}))
        self._seq += 1

    def _response(self, status: str, **extra: Any) -> dict[str, Any]:
        usage = self._usage if status != "in_progress" else None
        return response_object(self._ctx, self._id, status, list(self._done_items), usage, **extra)

    def feed(self, event: Event) -> bytes:
        if self._done:
            return b""
        out: list[bytes] = []
        if isinstance(event, Start):
            self._origin = event.provider
        if isinstance(event, UsageUpdate):
            self._usage = event.usage
            return b""
        if not self._started:
            self._started = True
            self._emit(out, "response.created", response=self._response("in_progress"))
            self._emit(out, "response.in_progress", response=self._response("in_progress"))
        if isinstance(event, StreamError):
            self._fail(event.error, out)
            return b"".join(out)
        if self._held is not None:
            held, self._held = self._held, None
            if isinstance(event, SignatureDelta):
                self._sign(event.signature)
                self._close(out)
                self._apply(held, out)
                return b"".join(out)
            self._close(out)
            self._apply(held, out)
        self._apply(event, out)
        return b"".join(out)

    @property
    def _index(self) -> int:
        return len(self._done_items)

    def _sign(self, sig: Signature) -> None:
        if self._open == "reasoning" and self._thinking and self._thinking[-1].signature is None:
            last = self._thinking[-1]
            self._thinking[-1] = ThinkingPart(last.text, sig, False, last.origin)

    def _close(self, out: list[bytes]) -> None:
        ids = {"item_id": self._item_id, "output_index": self._index}
        if self._open == "message":
            text = "".join(self._text)
            part = {"type": "output_text", "text": text, "annotations": []}
            self._emit(
                out, "response.output_text.done", **ids, content_index=0, text=text, logprobs=[]
            )
            self._emit(out, "response.content_part.done", **ids, content_index=0, part=part)
            item = message_item(self._item_id, text)
            self._emit(out, "response.output_item.done", output_index=self._index, item=item)
            self._done_items.append(item)
        elif self._open == "reasoning":
            text = "".join(p.text for p in self._thinking if not p.redacted)
            part = {"type": "summary_text", "text": text}
            self._emit(
                out, "response.reasoning_summary_text.done", **ids, summary_index=0, text=text
            )
            self._emit(
                out, "response.reasoning_summary_part.done", **ids, summary_index=0, part=part
            )
            item = reasoning_item(self._ctx, self._item_id, self._thinking)
            item["summary"] = [part]
            self._emit(out, "response.output_item.done", output_index=self._index, item=item)
            self._done_items.append(item)
        self._open = None

    def _open_message(self, out: list[bytes]) -> None:
        self._close(out)
        self._open, self._item_id, self._text = "message", mint_id("msg_", self._ctx.rng), []
        item = message_item(self._item_id, "", done=False)
        self._emit(out, "response.output_item.added", output_index=self._index, item=item)
        part = {"type": "output_text", "text": "", "annotations": []}
        self._emit(
            out,
            "response.content_part.added",
            item_id=self._item_id,
            output_index=self._index,
            content_index=0,
            part=part,
        )

    def _open_reasoning(self, out: list[bytes]) -> None:
        self._close(out)
        self._open, self._item_id, self._thinking = "reasoning", mint_id("rs_", self._ctx.rng), []
        item = {"type": "reasoning", "id": self._item_id, "summary": []}
        self._emit(out, "response.output_item.added", output_index=self._index, item=item)
        part = {"type": "summary_text", "text": ""}
        self._emit(
            out,
            "response.reasoning_summary_part.added",
            item_id=self._item_id,
            output_index=self._index,
            summary_index=0,
            part=part,
        )

    def _apply(self, event: Event, out: list[bytes]) -> None:
        if self._open == "reasoning" and isinstance(event, TextDelta | ToolCallStart):
            self._held = event  # deferred close: a signature may still land on this item
            return
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event, out)

    @property
    def _handlers(self) -> dict[type, Callable[[Any, list[bytes]], None]]:
        return {
            TextDelta: self._on_text,
            ThinkingDelta: self._on_thinking,
            SignatureDelta: lambda e, out: self._sign(e.signature),
            RedactedThinking: self._on_redacted,
            ToolCallStart: self._on_call_start,
            ToolCallDelta: self._on_call_delta,
            ToolCallEnd: self._on_call_end,
            Finish: self._on_finish,
        }

    def _on_text(self, event: TextDelta, out: list[bytes]) -> None:
        if not event.text:
            return
        if self._open != "message":
            self._open_message(out)
        self._text.append(event.text)
        ids = {"item_id": self._item_id, "output_index": self._index, "content_index": 0}
        self._emit(out, "response.output_text.delta", **ids, delta=event.text, logprobs=[])

    def _on_thinking(self, event: ThinkingDelta, out: list[bytes]) -> None:
        if not event.text:
            return
        if self._open != "reasoning" or (self._thinking and self._thinking[-1].signature):
            self._open_reasoning(out)
        if self._thinking and self._thinking[-1].signature is None:
            last = self._thinking[-1]
            self._thinking[-1] = ThinkingPart(last.text + event.text, None, False, last.origin)
        else:
            self._thinking.append(ThinkingPart(event.text, None, False, self._origin))
        ids = {"item_id": self._item_id, "output_index": self._index, "summary_index": 0}
        self._emit(out, "response.reasoning_summary_text.delta", **ids, delta=event.text)

    def _on_redacted(self, event: RedactedThinking, out: list[bytes]) -> None:
        if self._open != "reasoning":
            self._open_reasoning(out)
        sig = event.signature
        self._thinking.append(ThinkingPart("", sig, True, sig.provider))

    def _on_call_start(self, event: ToolCallStart, out: list[bytes]) -> None:
        self._close(out)
        self._call, self._item_id = (event.id, event.name), mint_id("fc_", self._ctx.rng)
        spec = client_tool(self._ctx, event.name)
        self._custom = spec is not None and spec.origin.kind == "custom"
        if not self._custom:
            call = ToolCallPart(event.id, event.name, {})
            item = call_item(self._ctx, call, self._item_id, False)
            self._emit(out, "response.output_item.added", output_index=self._index, item=item)

    def _on_call_delta(self, event: ToolCallDelta, out: list[bytes]) -> None:
        if event.fragment and self._call and not self._custom:
            ids = {"item_id": self._item_id, "output_index": self._index}
            self._emit(out, "response.function_call_arguments.delta", **ids, delta=event.fragment)

    def _on_call_end(self, event: ToolCallEnd, out: list[bytes]) -> None:
        if self._call is None:
            return
        call = ToolCallPart(self._call[0], self._call[1], event.arguments)
        item = call_item(self._ctx, call, self._item_id, True)
        if self._custom:
            self._emit(out, "response.output_item.added", output_index=self._index, item=item)
        else:
            ids = {"item_id": self._item_id, "output_index": self._index}
            args = dumps(event.arguments)
            self._emit(
                out,
                "response.function_call_arguments.done",
                **ids,
                name=item["name"],
                arguments=args,
            )
        self._emit(out, "response.output_item.done", output_index=self._index, item=item)
        self._done_items.append(item)
        self._call = None

    def _on_finish(self, event: Finish, out: list[bytes]) -> None:
        self._close(out)
        status, incomplete = status_of(event.stop_reason)
        kind = "response.completed" if status == "completed" else "response.incomplete"
        self._emit(out, kind, response=self._response(status, incomplete=incomplete))
        self._done = True

    def _fail(self, error: ErrorInfo, out: list[bytes]) -> None:
        code = error_code(error)
        self._emit(out, "error", code=code, message=error.message, param=None)
        failed = self._response("failed", error={"code": code, "message": error.message})
        self._emit(out, "response.failed", response=failed)
        self._done = True
