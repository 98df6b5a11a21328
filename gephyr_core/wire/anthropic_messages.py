"""Anthropic Messages ⇄ canonical: client requests, upstream requests, responses (§2.4)."""

from __future__ import annotations

import re
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
    Params,
    Part,
    Request,
    Response,
    Role,
    Signature,
    StopReason,
    TextPart,
    ThinkingConfig,
    ThinkingPart,
    ToolCallPart,
    ToolChoice,
    ToolOrigin,
    ToolResultPart,
    ToolSpec,
    Usage,
    int_or_zero,
    override_stop,
)
from gephyr_core.wire.errors import invalid, unsupported
from gephyr_core.wire.history import normalize, prepare_history
from gephyr_core.wire.ids import UpstreamContext, mint_id, upstream_tool_name
from gephyr_core.wire.jsonx import arguments_object
from gephyr_core.wire.media import ANTHROPIC_IMAGE_TYPES, is_files_api_uri
from gephyr_core.wire.schema import object_root
from gephyr_core.wire.thinking import anthropic_thinking, as_effort
from gephyr_core.wire.validate import (
    lst,
    obj,
    opt_float,
    opt_int,
    opt_str,
    req_str,
    stop_list,
    str_field,
)

JSON_OBJECT_INSTRUCTION = "Respond with one JSON object and nothing else."
_VERSIONED_TOOL = re.compile(r"_\d{8}$")

STOP_FROM: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "stop_sequence": "stop_sequence",
    "max_tokens": "max_tokens",
    "tool_use": "tool_use",
    "refusal": "content_filter",
    "pause_turn": "pause_turn",
    "model_context_window_exceeded": "context_window_exceeded",
}
STOP_TO: dict[StopReason, str] = {
    "end_turn": "end_turn",
    "stop_sequence": "stop_sequence",
    "max_tokens": "max_tokens",
    "tool_use": "tool_use",
    "content_filter": "refusal",
    "pause_turn": "pause_turn",
    "context_window_exceeded": "model_context_window_exceeded",
    "other": "end_turn",
}


# ---------------------------------------------------------------- client request → canonical


def _text_of(blocks: object) -> str:
    if isinstance(blocks, str):
        return blocks
    texts = [b.get("text", "") for b in lst(blocks, "content") if isinstance(b, Mapping)]
    return "\n".join(t for t in texts if isinstance(t, str) and t)


def _media(block: Mapping[str, Any], field: str) -> Part:
    source = obj(block.get("source"), f"{field}.source")
    kind = source.get("type")
    if kind == "base64":
        return MediaPart(opt_str(source, "media_type"), req_str(source, "data", f"{field}.data"))
    if kind == "url":
        return MediaPart(None, None, req_str(source, "url", f"{field}.url"))
    if kind == "text" and block.get("type") == "document":
        return TextPart(str(source.get("data") or ""))
    raise unsupported(f"{field}.source.type {kind!r} is not supported", f"{field}.source")


def _result_content(value: object, field: str) -> tuple[TextPart | MediaPart, ...]:
    if isinstance(value, str):
        return (TextPart(value),) if value else ()
    out: list[TextPart | MediaPart] = []
    for i, block in enumerate(lst(value, field)):
        block = obj(block, f"{field}[{i}]")
        if block.get("type") == "text" and block.get("text"):
            out.append(TextPart(str(block["text"])))
        elif block.get("type") in ("image", "document"):
            part = _media(block, f"{field}[{i}]")
            if isinstance(part, TextPart | MediaPart):
                out.append(part)
    return tuple(out)


def _block(block: Mapping[str, Any], field: str, names: dict[str, str]) -> list[Part]:
    kind = block.get("type")
    if kind == "text":
        text = block.get("text")
        if not isinstance(text, str):
            raise invalid(f"{field}.text: expected a string", field)
        return [TextPart(text)]
    if kind in ("image", "document"):
        return [_media(block, field)]
    if kind == "tool_use":
        call_id, name = req_str(block, "id", f"{field}.id"), req_str(block, "name", f"{field}.name")
        names[call_id] = name
        return [ToolCallPart(call_id, name, arguments_object(block.get("input")))]
    if kind == "tool_result":
        call_id = req_str(block, "tool_use_id", f"{field}.tool_use_id")
        content = _result_content(block.get("content"), f"{field}.content")
        is_error = block.get("is_error") is True
        return [ToolResultPart(call_id, names.get(call_id, ""), content, is_error)]
    if kind == "thinking":
        text = str(block.get("thinking") or "")
        return list(carrier.read_slot(block.get("signature"), text, "anthropic"))
    if kind == "redacted_thinking":
        return list(carrier.read_slot(block.get("data"), "", "anthropic", redacted=True))
    if kind == "search_result":
        return [TextPart(_text_of(block.get("content")))]
    return []  # server-tool blocks and unknown kinds are dropped


def _messages(body: Mapping[str, Any]) -> tuple[Message, ...]:
    raw = body.get("messages")
    if not isinstance(raw, list):
        raise invalid("messages: an array is required", "messages")
    names: dict[str, str] = {}
    turns: list[tuple[Role, list[Part]]] = []
    for i, msg in enumerate(raw):
        msg = obj(msg, f"messages[{i}]")
        role = msg.get("role")
        if role not in ("user", "assistant"):
            raise invalid(f"messages[{i}].role: must be user or assistant", f"messages[{i}].role")
        content = msg.get("content")
        parts: list[Part] = []
        if isinstance(content, str):
            parts.append(TextPart(content))
        else:
            for j, block in enumerate(lst(content, f"messages[{i}].content")):
                parts += _block(
                    obj(block, f"messages[{i}].content[{j}]"), f"messages[{i}].content[{j}]", names
                )
        turns.append((role, parts))
    return normalize(turns)


def _tools(body: Mapping[str, Any]) -> tuple[ToolSpec, ...]:
    out: list[ToolSpec] = []
    for i, tool in enumerate(lst(body.get("tools"), "tools")):
        tool = obj(tool, f"tools[{i}]")
        kind = tool.get("type")
        if isinstance(kind, str) and kind != "custom" and _VERSIONED_TOOL.search(kind):
            continue  # versioned server tools (web_search_20250305, ...) are dropped
        name = req_str(tool, "name", f"tools[{i}].name")
        desc = str_field(tool)
        schema = object_root(tool.get("input_schema"))
        out.append(ToolSpec(name, desc, schema, None, ToolOrigin("function", None, name)))
    return tuple(out)


def _tool_choice(body: Mapping[str, Any]) -> tuple[ToolChoice | None, bool | None]:
    choice = body.get("tool_choice")
    if choice is None:
        return None, None
    choice = obj(choice, "tool_choice")
    parallel = False if choice.get("disable_parallel_tool_use") is True else None
    kind = choice.get("type")
    if kind == "auto":
        return ToolChoice("auto"), parallel
    if kind == "none":
        return ToolChoice("none"), parallel
    if kind == "any":
        return ToolChoice("required"), parallel
    if kind == "tool":
        return ToolChoice("tool", req_str(choice, "name", "tool_choice.name")), parallel
    raise invalid(f"tool_choice.type {kind!r} is not supported", "tool_choice")


def _thinking(body: Mapping[str, Any]) -> ThinkingConfig:
    cfg = body.get("thinking")
    effort = as_effort(obj(body.get("output_config") or {}, "output_config").get("effort"))
    if cfg is None:
        return ThinkingConfig()
    cfg = obj(cfg, "thinking")
    kind = cfg.get("type")
    if kind == "enabled":
        return ThinkingConfig("on", budget_tokens=opt_int(cfg, "budget_tokens"))
    if kind == "adaptive":
        return ThinkingConfig("on", effort=effort)
    if kind == "disabled":
        return ThinkingConfig("off")
    raise invalid(f"thinking.type {kind!r} is not supported", "thinking.type")


def _output_format(body: Mapping[str, Any]) -> OutputFormat:
    fmt = obj(body.get("output_config") or {}, "output_config").get("format")
    if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
        schema = fmt.get("schema")
        return OutputFormat(
            "json_schema", "response", dict(schema) if isinstance(schema, Mapping) else None
        )
    return OutputFormat()


def decode_request(body: Mapping[str, Any], *, require_max_tokens: bool = True) -> Request:
    """An Anthropic Messages client body → canonical request (`count_tokens` skips max_tokens)."""
    model = req_str(body, "model")
    max_tokens = opt_int(body, "max_tokens")
    if require_max_tokens and max_tokens is None:
        raise invalid("max_tokens: required", "max_tokens")
    system = body.get("system")
    texts = (
        (system,)
        if isinstance(system, str)
        else tuple(
            str(b.get("text"))
            for b in lst(system, "system")
            if isinstance(b, Mapping) and b.get("text")
        )
    )
    choice, parallel = _tool_choice(body)
    metadata = obj(body.get("metadata") or {}, "metadata")
    params = Params(
        max_output_tokens=max_tokens,
        temperature=opt_float(body, "temperature"),
        top_p=opt_float(body, "top_p"),
        top_k=opt_int(body, "top_k"),
        stop=stop_list(body.get("stop_sequences"), "stop_sequences"),
    )
    return Request(
        model=model,
        messages=_messages(body),
        system=tuple(t for t in texts if t),
        tools=_tools(body),
        tool_choice=choice,
        parallel_tool_calls=parallel,
        params=params,
        thinking=_thinking(body),
        output_format=_output_format(body),
        stream=body.get("stream") is True,
        stream_usage=True,
        user=metadata.get("user_id") if isinstance(metadata.get("user_id"), str) else None,
        client_format="anthropic",
    )


# ---------------------------------------------------------------- canonical → upstream request


def _media_block(part: MediaPart) -> dict[str, Any]:
    mime = part.mime_type or ""
    if part.url is not None and part.data is None:
        if is_files_api_uri(part.url):
            raise invalid("a Gemini Files-API URI cannot be sent to an anthropic account")
        kind = "document" if mime == "application/pdf" or part.url.endswith(".pdf") else "image"
        return {"type": kind, "source": {"type": "url", "url": part.url}}
    if mime == "application/pdf":
        return {
            "type": "document",
            "source": {"type": "base64", "media_type": mime, "data": part.data},
        }
    if mime in ANTHROPIC_IMAGE_TYPES:
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": mime, "data": part.data},
        }
    raise invalid(f"media type {mime or 'unknown'!r} is not supported by anthropic")


def _result_block(part: ToolResultPart) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for item in part.content:
        if isinstance(item, TextPart):
            if item.text:
                content.append({"type": "text", "text": item.text})
        else:
            content.append(_media_block(item))
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": part.call_id}
    if content:
        block["content"] = content
    if part.is_error:
        block["is_error"] = True
    return block


def _kept_thinking(part: ThinkingPart) -> bool:
    sig = part.signature
    return (
        part.origin == "anthropic"
        and sig is not None
        and sig.provider == "anthropic"
        and bool(sig.value)
    )


def _thinking_on(req: Request, messages: tuple[Message, ...]) -> bool:
    """Rules (b) and (c) of §4.7: a forced tool choice or an unsigned tool loop turns it off."""
    if req.thinking.mode != "on":
        return False
    if req.tool_choice is not None and req.tool_choice.mode in ("required", "tool"):
        return False
    last = next((m for m in reversed(messages) if m.role == "assistant"), None)
    if last is not None and any(isinstance(p, ToolCallPart) for p in last.parts):
        first = last.parts[0]
        return isinstance(first, ThinkingPart) and _kept_thinking(first)
    return True


def _blocks(message: Message, names: Mapping[str, str]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            blocks.append({"type": "text", "text": part.text})
        elif isinstance(part, MediaPart):
            blocks.append(_media_block(part))
        elif isinstance(part, ThinkingPart) and part.signature is not None:
            if part.redacted:
                blocks.append({"type": "redacted_thinking", "data": part.signature.value})
            else:
                blocks.append(
                    {"type": "thinking", "thinking": part.text, "signature": part.signature.value}
                )
        elif isinstance(part, ToolCallPart):
            name = names.get(part.name) or upstream_tool_name(part.name, "anthropic")
            blocks.append(
                {"type": "tool_use", "id": part.id, "name": name, "input": part.arguments}
            )
        elif isinstance(part, ToolResultPart):
            blocks.append(_result_block(part))
    return blocks


def _anthropic_messages(
    req: Request, names: Mapping[str, str]
) -> tuple[list[dict[str, Any]], bool]:
    history = prepare_history(req.messages)
    thinking_on = _thinking_on(req, history)
    turns: list[tuple[Role, list[Part]]] = []
    for message in history:
        parts = [
            p
            for p in message.parts
            if not isinstance(p, ThinkingPart) or (thinking_on and _kept_thinking(p))
        ]
        turns.append((message.role, parts))
    history = normalize(turns)
    if history and history[-1].role == "assistant":
        parts = list(history[-1].parts)
        if parts and isinstance(parts[-1], TextPart):
            parts[-1] = TextPart(parts[-1].text.rstrip())
        history = normalize([*((m.role, m.parts) for m in history[:-1]), ("assistant", parts)])
    return [{"role": m.role, "content": _blocks(m, names)} for m in history], thinking_on


def encode_request(req: Request, opts: EncodeOptions = DEFAULT_OPTIONS) -> dict[str, Any]:
    """Canonical request → Anthropic Messages upstream body (`req.model` is the upstream model)."""
    names = {t.name: upstream_tool_name(t.name, "anthropic") for t in req.tools}
    messages, thinking_on = _anthropic_messages(req, names)
    max_tokens = (
        req.params.max_output_tokens or opts.catalogue_max_tokens or opts.default_max_output_tokens
    )
    body: dict[str, Any] = {"model": req.model, "messages": messages}
    extra = JSON_OBJECT_INSTRUCTION if req.output_format.kind == "json_object" else None
    system = [t for t in (*req.system, extra) if t]
    if system:
        body["system"] = [{"type": "text", "text": t} for t in system]
    thinking, max_tokens = anthropic_thinking(
        req.thinking if thinking_on else ThinkingConfig("off"), max_tokens
    )
    body["max_tokens"] = max_tokens
    if thinking is not None:
        body["thinking"] = thinking
    body |= _sampling(req, thinking_on)
    if req.tools:
        body["tools"] = [
            {
                "name": names[t.name],
                "description": t.description,
                "input_schema": object_root(t.schema),
            }
            for t in req.tools
        ]
    choice = _encode_choice(req, names)
    if choice is not None:
        body["tool_choice"] = choice
    if req.output_format.kind == "json_schema" and req.output_format.schema is not None:
        body["output_config"] = {
            "format": {"type": "json_schema", "schema": req.output_format.schema}
        }
    if req.user:
        body["metadata"] = {"user_id": req.user}
    body["stream"] = req.stream
    return body


def _sampling(req: Request, thinking_on: bool) -> dict[str, Any]:
    """Rule (c) of §4.7: with thinking on, no temperature or top_k, and top_p only ≥ 0.95."""
    p = req.params
    out: dict[str, Any] = {}
    if p.temperature is not None and not thinking_on:
        out["temperature"] = min(max(p.temperature, 0.0), 1.0)
    if p.top_p is not None and (not thinking_on or p.top_p >= 0.95):
        out["top_p"] = p.top_p
    if p.top_k is not None and not thinking_on:
        out["top_k"] = p.top_k
    stops = [s for s in p.stop if s.strip()]
    if stops:
        out["stop_sequences"] = stops
    return out


def _encode_choice(req: Request, names: Mapping[str, str]) -> dict[str, Any] | None:
    choice = req.tool_choice
    out: dict[str, Any] | None = None
    if choice is not None:
        kind = {"auto": "auto", "none": "none", "required": "any", "tool": "tool"}[choice.mode]
        out = {"type": kind}
        if choice.mode == "tool" and choice.name:
            out["name"] = names.get(choice.name) or upstream_tool_name(choice.name, "anthropic")
    if req.parallel_tool_calls is False and req.tools:
        out = out or {"type": "auto"}
        if out["type"] != "none":
            out["disable_parallel_tool_use"] = True
    return out


# ---------------------------------------------------------------- responses


def decode_usage(usage: object) -> Usage:
    if not isinstance(usage, Mapping):
        return Usage()
    read = int_or_zero(usage.get("cache_read_input_tokens"))
    write = int_or_zero(usage.get("cache_creation_input_tokens"))
    details = usage.get("output_tokens_details")
    reasoning = int_or_zero(details.get("reasoning_tokens")) if isinstance(details, Mapping) else 0
    return Usage(
        int_or_zero(usage.get("input_tokens")) + read + write,
        read,
        write,
        int_or_zero(usage.get("output_tokens")),
        reasoning,
    )


def encode_usage(usage: Usage) -> dict[str, int]:
    return {
        "input_tokens": max(0, usage.input_total - usage.cache_read - usage.cache_write),
        "output_tokens": usage.output_total,
        "cache_read_input_tokens": usage.cache_read,
        "cache_creation_input_tokens": usage.cache_write,
    }


def decode_response(body: Mapping[str, Any], ctx: UpstreamContext) -> Response:
    """An Anthropic upstream non-stream answer → canonical response."""
    minter = ctx.minter()
    parts: list[Part] = []
    for block in lst(body.get("content"), "content"):
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            parts.append(TextPart(str(block["text"])))
        elif kind == "thinking":
            sig = block.get("signature")
            signature = Signature("anthropic", sig) if isinstance(sig, str) and sig else None
            parts.append(
                ThinkingPart(str(block.get("thinking") or ""), signature, False, "anthropic")
            )
        elif kind == "redacted_thinking" and isinstance(block.get("data"), str):
            parts.append(ThinkingPart("", Signature("anthropic", block["data"]), True, "anthropic"))
        elif kind == "tool_use":
            name = ctx.client_name(str(block.get("name") or ""))
            args = arguments_object(block.get("input"))
            parts.append(ToolCallPart(minter.take(block.get("id")), name, args))
    saw_call = any(isinstance(p, ToolCallPart) for p in parts)
    stop = override_stop(STOP_FROM.get(str(body.get("stop_reason")), "other"), saw_call)
    seq = body.get("stop_sequence") if isinstance(body.get("stop_sequence"), str) else None
    return Response(
        str(body.get("id") or ""),
        str(body.get("model") or ""),
        tuple(parts),
        stop,
        seq,
        decode_usage(body.get("usage")),
    )


def thinking_block(part: ThinkingPart) -> dict[str, Any] | None:
    """A thinking part as an anthropic client block: native signature or a carrier (§4.7)."""
    if part.redacted:
        if part.signature is None:
            return None
        if part.signature.provider == "anthropic":
            return {"type": "redacted_thinking", "data": part.signature.value}
        return {
            "type": "redacted_thinking",
            "data": carrier.encode_carrier(part.signature.provider, [part]),
        }
    signature = carrier.write_slot(part, "anthropic") or ""
    return {"type": "thinking", "thinking": part.text, "signature": signature}


def encode_response(resp: Response, ctx: ClientContext) -> dict[str, Any]:
    """Canonical response → an Anthropic client's non-stream body."""
    content: list[dict[str, Any]] = []
    for part in resp.parts:
        if isinstance(part, TextPart) and part.text:
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ThinkingPart):
            block = thinking_block(part)
            if block is not None:
                content.append(block)
        elif isinstance(part, ToolCallPart):
            content.append(
                {"type": "tool_use", "id": part.id, "name": part.name, "input": part.arguments}
            )
    return {
        "id": mint_id("msg_", ctx.rng),
        "type": "message",
        "role": "assistant",
        "model": ctx.model,
        "content": content,
        "stop_reason": STOP_TO[resp.stop_reason],
        "stop_sequence": resp.stop_sequence if resp.stop_reason == "stop_sequence" else None,
        "usage": encode_usage(resp.usage),
    }


def encode_count_tokens(req: Request, opts: EncodeOptions = DEFAULT_OPTIONS) -> dict[str, Any]:
    """Body for `POST /v1/messages/count_tokens` (§7): the request without generation limits."""
    body = encode_request(req, opts)
    keep = ("model", "messages", "system", "tools", "tool_choice", "thinking")
    return {k: v for k, v in body.items() if k in keep}
