"""OpenAI Chat Completions ⇄ canonical: client and upstream requests, responses (§2.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gephyr_core.wire import carrier
from gephyr_core.wire.canonical import (
    DEFAULT_OPTIONS,
    ClientContext,
    EncodeOptions,
    MediaPart,
    Message,
    OutputFormat,
    Part,
    Request,
    Response,
    StopReason,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
    Usage,
    int_or_zero,
    override_stop,
)
from gephyr_core.wire.errors import invalid
from gephyr_core.wire.history import prepare_history
from gephyr_core.wire.ids import UpstreamContext, mint_id, upstream_tool_name
from gephyr_core.wire.jsonx import arguments_object, dumps
from gephyr_core.wire.media import audio_format, is_files_api_uri, to_data_url
from gephyr_core.wire.openai_chat_request import decode_messages as decode_messages
from gephyr_core.wire.openai_chat_request import decode_output_format as decode_output_format
from gephyr_core.wire.openai_chat_request import decode_request as decode_request
from gephyr_core.wire.openai_chat_request import decode_tool_choice as decode_tool_choice
from gephyr_core.wire.schema import object_root
from gephyr_core.wire.thinking import openai_effort
from gephyr_core.wire.validate import (
    lst,
)

STOP_FROM: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "content_filter",
}
STOP_TO: dict[StopReason, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    "pause_turn": "stop",
    "other": "stop",
}


# ---------------------------------------------------------------- canonical → upstream request


def _media_item(part: MediaPart) -> dict[str, Any]:
    mime = part.mime_type or ""
    if part.url is not None and is_files_api_uri(part.url):
        raise invalid("a Gemini Files-API URI cannot be sent to an openai account")
    if mime.startswith("audio/") and part.data is not None:
        return {
            "type": "input_audio",
            "input_audio": {"data": part.data, "format": audio_format(mime)},
        }
    if mime == "application/pdf" and part.data is not None:
        return {
            "type": "file",
            "file": {"file_data": to_data_url(part), "filename": part.filename or "file.pdf"},
        }
    return {"type": "image_url", "image_url": {"url": to_data_url(part)}}


def _user_content(parts: list[Part]) -> str | list[dict[str, Any]]:
    if all(isinstance(p, TextPart) for p in parts) and len(parts) == 1:
        return parts[0].text  # type: ignore[union-attr]
    items: list[dict[str, Any]] = []
    for p in parts:
        if isinstance(p, TextPart):
            items.append({"type": "text", "text": p.text})
        elif isinstance(p, MediaPart):
            items.append(_media_item(p))
    return items


def _encode_message(message: Message, names: Mapping[str, str]) -> list[dict[str, Any]]:
    if message.role == "assistant":
        texts = [p.text for p in message.parts if isinstance(p, TextPart)]
        calls = [p for p in message.parts if isinstance(p, ToolCallPart)]
        out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
        reasoning = "".join(
            p.text
            for p in message.parts
            if isinstance(p, ThinkingPart) and p.origin == "openai" and not p.redacted
        )
        if reasoning:
            out["reasoning_content"] = reasoning
        if calls:
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {
                        "name": names.get(c.name) or upstream_tool_name(c.name, "openai"),
                        "arguments": dumps(c.arguments),
                    },
                }
                for c in calls
            ]
        return [out]
    messages: list[dict[str, Any]] = []
    rest: list[Part] = []
    for part in message.parts:
        if isinstance(part, ToolResultPart):
            messages.append({"role": "tool", "tool_call_id": part.call_id, "content": part.text})
            rest += [c for c in part.content if isinstance(c, MediaPart)]
        elif isinstance(part, TextPart | MediaPart):
            rest.append(part)
    if rest:
        messages.append({"role": "user", "content": _user_content(rest)})
    return messages


def encode_tool_choice(choice: ToolChoice, names: Mapping[str, str]) -> str | dict[str, Any]:
    if choice.mode == "tool" and choice.name:
        name = names.get(choice.name) or upstream_tool_name(choice.name, "openai")
        return {"type": "function", "function": {"name": name}}
    return "required" if choice.mode == "tool" else choice.mode


def _tools_body(req: Request, names: Mapping[str, str]) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    for t in req.tools:
        fn: dict[str, Any] = {
            "name": names[t.name],
            "description": t.description,
            "parameters": object_root(t.schema),
        }
        if t.strict is not None:
            fn["strict"] = t.strict
        tools.append({"type": "function", "function": fn})
    return tools


def _sampling(req: Request, opts: EncodeOptions) -> dict[str, Any]:
    p = req.params
    temperature = None if p.temperature is None else min(max(p.temperature, 0.0), 2.0)
    fields: dict[str, Any] = {
        opts.openai_max_tokens_field: p.max_output_tokens,
        "temperature": temperature,
        "top_p": p.top_p,
        "stop": list(p.stop[:4]) or None,
        "seed": p.seed,
        "presence_penalty": p.presence_penalty,
        "frequency_penalty": p.frequency_penalty,
        "safety_identifier": req.user,
        "reasoning_effort": openai_effort(req.thinking),
        "response_format": encode_output_format(req.output_format),
    }
    return {k: v for k, v in fields.items() if v is not None}


def encode_request(req: Request, opts: EncodeOptions = DEFAULT_OPTIONS) -> dict[str, Any]:
    """Canonical request → OpenAI chat upstream body (always streamed with usage, §1.3)."""
    names = {t.name: upstream_tool_name(t.name, "openai") for t in req.tools}
    messages: list[dict[str, Any]] = [{"role": "system", "content": t} for t in req.system if t]
    for message in prepare_history(req.messages):
        messages += _encode_message(message, names)
    body: dict[str, Any] = {"model": req.model, "messages": messages}
    if req.tools:
        body["tools"] = _tools_body(req, names)
        if req.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = req.parallel_tool_calls
    if req.tool_choice is not None:
        body["tool_choice"] = encode_tool_choice(req.tool_choice, names)
    body |= _sampling(req, opts)
    body["stream"] = True
    body["stream_options"] = {"include_usage": True}
    return body


def encode_output_format(fmt: OutputFormat) -> dict[str, Any] | None:
    if fmt.kind == "json_object":
        return {"type": "json_object"}
    if fmt.kind == "json_schema":
        spec: dict[str, Any] = {"name": fmt.name, "schema": fmt.schema or {"type": "object"}}
        if fmt.strict is not None:
            spec["strict"] = fmt.strict
        return {"type": "json_schema", "json_schema": spec}
    return None


# ---------------------------------------------------------------- responses


def decode_usage(usage: object) -> Usage:
    """Chat (`prompt_tokens`) or Responses (`input_tokens`) usage → canonical."""
    if not isinstance(usage, Mapping):
        return Usage()
    inp = usage.get("prompt_tokens", usage.get("input_tokens"))
    out = usage.get("completion_tokens", usage.get("output_tokens"))
    pd = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
    cd = usage.get("completion_tokens_details") or usage.get("output_tokens_details") or {}
    pd = pd if isinstance(pd, Mapping) else {}
    cd = cd if isinstance(cd, Mapping) else {}
    return Usage(
        int_or_zero(inp),
        int_or_zero(pd.get("cached_tokens")),
        int_or_zero(pd.get("cache_write_tokens")),
        int_or_zero(out),
        int_or_zero(cd.get("reasoning_tokens")),
    )


def encode_usage(usage: Usage) -> dict[str, Any]:
    details: dict[str, int] = {"cached_tokens": usage.cache_read}
    if usage.cache_write:
        details["cache_write_tokens"] = usage.cache_write
    return {
        "prompt_tokens": usage.input_total,
        "completion_tokens": usage.output_total,
        "total_tokens": usage.total,
        "prompt_tokens_details": details,
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning},
    }


def decode_response(body: Mapping[str, Any], ctx: UpstreamContext) -> Response:
    """An OpenAI upstream non-stream chat completion → canonical response."""
    choices = lst(body.get("choices"), "choices")
    choice = choices[0] if choices and isinstance(choices[0], Mapping) else {}
    message = choice.get("message") if isinstance(choice.get("message"), Mapping) else {}
    assert isinstance(message, Mapping)
    minter = ctx.minter()
    parts: list[Part] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        parts.append(ThinkingPart(reasoning, None, False, "openai"))
    for key in ("content", "refusal"):
        if isinstance(message.get(key), str) and message[key]:
            parts.append(TextPart(message[key]))
    for call in lst(message.get("tool_calls"), "tool_calls"):
        fn = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(fn, Mapping) or not fn.get("name"):
            continue
        name = ctx.client_name(str(fn["name"]))
        parts.append(
            ToolCallPart(minter.take(call.get("id")), name, arguments_object(fn.get("arguments")))
        )
    saw_call = any(isinstance(p, ToolCallPart) for p in parts)
    stop = override_stop(STOP_FROM.get(str(choice.get("finish_reason")), "other"), saw_call)
    return Response(
        str(body.get("id") or ""),
        str(body.get("model") or ""),
        tuple(parts),
        stop,
        None,
        decode_usage(body.get("usage")),
    )


def thinking_fields(parts: tuple[Part, ...] | list[Part]) -> dict[str, Any]:
    """`reasoning_content` and, for signed thinking, `thinking_blocks` (native or carrier)."""
    out: dict[str, Any] = {}
    thinking = [p for p in parts if isinstance(p, ThinkingPart)]
    text = "".join(p.text for p in thinking if not p.redacted)
    if text:
        out["reasoning_content"] = text
    blocks: list[dict[str, Any]] = []
    for p in thinking:
        if p.redacted and p.signature is not None:
            value = (
                p.signature.value
                if p.signature.provider == "anthropic"
                else carrier.encode_carrier(p.signature.provider, [p])
            )
            blocks.append({"type": "redacted_thinking", "data": value})
        elif p.signature is not None:
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": p.text,
                    "signature": carrier.write_slot(p, "anthropic"),
                }
            )
    if blocks:
        out["thinking_blocks"] = blocks
    return out


def encode_tool_call(call: ToolCallPart, index: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {} if index is None else {"index": index}
    out |= {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": dumps(call.arguments)},
    }
    if call.signature is not None:
        value = carrier.write_slot(
            ThinkingPart("", call.signature, False, call.signature.provider), "gemini"
        )
        out["extra_content"] = {"google": {"thought_signature": value}}
    return out


def encode_response(resp: Response, ctx: ClientContext) -> dict[str, Any]:
    """Canonical response → a Chat Completions client's non-stream body."""
    text = "".join(p.text for p in resp.parts if isinstance(p, TextPart))
    calls = [p for p in resp.parts if isinstance(p, ToolCallPart)]
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if calls:
        message["tool_calls"] = [encode_tool_call(c) for c in calls]
    message |= thinking_fields(resp.parts)
    return {
        "id": mint_id("chatcmpl-", ctx.rng),
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": STOP_TO[resp.stop_reason],
                "logprobs": None,
            }
        ],
        "usage": encode_usage(resp.usage),
    }
