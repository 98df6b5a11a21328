"""OpenAI Responses (client format only) ⇄ canonical: requests and non-stream answers (§2.3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gephyr_core.wire import carrier
from gephyr_core.wire.canonical import (
    ClientContext,
    MediaPart,
    OutputFormat,
    Params,
    Part,
    Request,
    Response,
    Role,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolChoice,
    ToolOrigin,
    ToolResultPart,
    ToolSpec,
    Usage,
)
from gephyr_core.wire.errors import invalid, unsupported
from gephyr_core.wire.history import normalize
from gephyr_core.wire.ids import mint_id
from gephyr_core.wire.jsonx import arguments_object, dumps
from gephyr_core.wire.media import from_url
from gephyr_core.wire.openai_chat_request import decode_output_format, decode_tool_choice
from gephyr_core.wire.schema import object_root
from gephyr_core.wire.thinking import from_openai_effort
from gephyr_core.wire.validate import (
    lst,
    obj,
    opt_bool,
    opt_float,
    opt_int,
    opt_str,
    req_str,
    str_field,
)

CUSTOM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"input": {"type": "string"}},
    "required": ["input"],
}


def namespaced(namespace: str | None, name: str) -> str:
    """Canonical name of a namespaced tool: `<namespace>__<name>`."""
    return f"{namespace}__{name}" if namespace else name


# ---------------------------------------------------------------- client request → canonical


def _tool_specs(raw: object, field: str, namespace: str | None = None) -> list[ToolSpec]:
    out: list[ToolSpec] = []
    for i, tool in enumerate(lst(raw, field)):
        tool = obj(tool, f"{field}[{i}]")
        kind = tool.get("type")
        desc = str_field(tool)
        if kind == "function":
            name = req_str(tool, "name", f"{field}[{i}].name")
            strict = tool.get("strict") if isinstance(tool.get("strict"), bool) else None
            origin = ToolOrigin("function", namespace, name)
            out.append(
                ToolSpec(
                    namespaced(namespace, name),
                    desc,
                    object_root(tool.get("parameters")),
                    strict,
                    origin,
                )
            )
        elif kind == "custom":
            name = req_str(tool, "name", f"{field}[{i}].name")
            origin = ToolOrigin("custom", namespace, name)
            out.append(
                ToolSpec(namespaced(namespace, name), desc, dict(CUSTOM_SCHEMA), None, origin)
            )
        elif kind == "namespace":
            ns = req_str(tool, "name", f"{field}[{i}].name")
            out += _tool_specs(tool.get("tools"), f"{field}[{i}].tools", ns)
    return out


def _message_parts(content: object, field: str) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)]
    parts: list[Part] = []
    for i, item in enumerate(lst(content, field)):
        item = obj(item, f"{field}[{i}]")
        kind = item.get("type")
        if kind in ("input_text", "output_text", "text") and isinstance(item.get("text"), str):
            parts.append(TextPart(item["text"]))
        elif kind == "refusal" and isinstance(item.get("refusal"), str):
            parts.append(TextPart(item["refusal"]))
        elif kind == "input_image":
            url = item.get("image_url")
            if not isinstance(url, str) or not url:
                raise unsupported(
                    f"{field}[{i}]: only image_url images are supported", f"{field}[{i}]"
                )
            parts.append(from_url(url))
        elif kind == "input_file":
            data = item.get("file_data")
            if not isinstance(data, str) or not data:
                raise unsupported(
                    f"{field}[{i}]: only file_data files are supported", f"{field}[{i}]"
                )
            media = from_url(data, opt_str(item, "filename"))
            parts.append(
                media
                if media.url is None
                else MediaPart("application/pdf", data, None, media.filename)
            )
    return parts


def _output(value: object, field: str) -> tuple[TextPart | MediaPart, ...]:
    return tuple(p for p in _message_parts(value, field) if isinstance(p, TextPart | MediaPart))


class _Input:
    def __init__(self) -> None:
        self.system: list[str] = []
        self.turns: list[tuple[Role, list[Part]]] = []
        self.tools: list[ToolSpec] = []
        self.names: dict[str, str] = {}

    def add(self, role: Role, part: Part) -> None:
        self.turns.append((role, [part]))

    def item(self, item: Mapping[str, Any], field: str) -> None:
        kind = item.get("type", "message" if "role" in item else None)
        if isinstance(item.get("tools"), list):
            self.tools += _tool_specs(item["tools"], f"{field}.tools")
        if kind == "message":
            self._message(item, field)
        elif kind in ("function_call", "custom_tool_call"):
            self._call(item, field, custom=kind == "custom_tool_call")
        elif kind in ("function_call_output", "custom_tool_call_output"):
            call_id = req_str(item, "call_id", f"{field}.call_id")
            content = _output(item.get("output"), f"{field}.output")
            self.add("user", ToolResultPart(call_id, self.names.get(call_id, ""), content))
        elif kind == "reasoning":
            summary = lst(item.get("summary"), f"{field}.summary")
            texts = [
                str(s.get("text")) for s in summary if isinstance(s, Mapping) and s.get("text")
            ]
            for part in carrier.read_slot(item.get("encrypted_content"), "\n".join(texts), None):
                self.add("assistant", part)

    def _message(self, item: Mapping[str, Any], field: str) -> None:
        role = item.get("role")
        parts = _message_parts(item.get("content"), f"{field}.content")
        if role in ("system", "developer"):
            self.system.append("\n".join(p.text for p in parts if isinstance(p, TextPart)))
        elif role in ("user", "assistant"):
            self.turns.append((role, parts))
        else:
            raise invalid(f"{field}.role: unsupported role {role!r}", f"{field}.role")

    def _call(self, item: Mapping[str, Any], field: str, custom: bool) -> None:
        call_id = req_str(item, "call_id", f"{field}.call_id")
        name = namespaced(opt_str(item, "namespace"), req_str(item, "name", f"{field}.name"))
        self.names[call_id] = name
        if custom:
            raw = item.get("input")
            args = {"input": raw if isinstance(raw, str) else ""}
        else:
            args = arguments_object(item.get("arguments"))
        self.add("assistant", ToolCallPart(call_id, name, args))


def decode_request(body: Mapping[str, Any]) -> Request:
    """An OpenAI Responses client body → canonical request."""
    model = req_str(body, "model")
    for key in ("previous_response_id", "conversation"):
        if body.get(key) is not None:
            raise invalid(f"{key}: Gephyr stores no responses; send the full input", key)
    if body.get("background") is True:
        raise invalid("background: not supported; Gephyr stores no responses", "background")
    parsed = _Input()
    instructions = opt_str(body, "instructions")
    raw = body.get("input")
    if raw is None or raw == []:  # nothing stored to continue from: the input is the conversation
        raise invalid("input: required; Gephyr stores no responses, send the full input", "input")
    if isinstance(raw, str):
        parsed.add("user", TextPart(raw))
    else:
        for i, item in enumerate(lst(raw, "input")):
            parsed.item(obj(item, f"input[{i}]"), f"input[{i}]")
    tools = _tool_specs(body.get("tools"), "tools") + parsed.tools
    choice_raw = body.get("tool_choice")
    choice: ToolChoice | None = None
    if isinstance(choice_raw, str) or (
        isinstance(choice_raw, Mapping) and choice_raw.get("type") in ("function", "custom")
    ):
        choice = decode_tool_choice(choice_raw)
    reasoning = obj(body.get("reasoning") or {}, "reasoning")
    text = obj(body.get("text") or {}, "text")
    fmt: OutputFormat = decode_output_format(text.get("format"), "text.format")
    include = body.get("include")
    carriers = isinstance(include, list) and "reasoning.encrypted_content" in include
    params = Params(
        max_output_tokens=opt_int(body, "max_output_tokens"),
        temperature=opt_float(body, "temperature"),
        top_p=opt_float(body, "top_p"),
    )
    return Request(
        model=model,
        messages=normalize(parsed.turns),
        system=tuple(s for s in ([instructions] if instructions else []) + parsed.system if s),
        tools=tuple(tools),
        tool_choice=choice,
        parallel_tool_calls=opt_bool(body, "parallel_tool_calls"),
        params=params,
        thinking=from_openai_effort(reasoning.get("effort")),
        output_format=fmt,
        stream=body.get("stream") is True,
        stream_usage=True,
        user=opt_str(body, "safety_identifier") or opt_str(body, "user"),
        client_format="responses",
        include_carriers=carriers,
    )


# ---------------------------------------------------------------- canonical → client answer


def encode_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_total,
        "input_tokens_details": {"cached_tokens": usage.cache_read},
        "output_tokens": usage.output_total,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning},
        "total_tokens": usage.total,
    }


def status_of(resp_stop: str) -> tuple[str, dict[str, str] | None]:
    if resp_stop in ("max_tokens", "context_window_exceeded"):
        return "incomplete", {"reason": "max_output_tokens"}
    if resp_stop == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def client_tool(ctx: ClientContext, name: str) -> ToolSpec | None:
    return next((t for t in ctx.request.tools if t.name == name), None)


def call_item(ctx: ClientContext, call: ToolCallPart, item_id: str, done: bool) -> dict[str, Any]:
    """A `function_call` or `custom_tool_call` output item in the client's own names."""
    spec = client_tool(ctx, call.name)
    origin = spec.origin if spec is not None else ToolOrigin("function", None, call.name)
    name = origin.client_name or call.name
    if origin.kind == "custom":
        raw = call.arguments.get("input")
        text = raw if isinstance(raw, str) else dumps(call.arguments)
        return {
            "type": "custom_tool_call",
            "id": item_id,
            "call_id": call.id,
            "name": name,
            "input": text,
            "status": "completed",
        }
    item: dict[str, Any] = {
        "type": "function_call",
        "id": item_id,
        "call_id": call.id,
        "name": name,
    }
    if origin.namespace:
        item["namespace"] = origin.namespace
    item["arguments"] = dumps(call.arguments) if done else ""
    item["status"] = "completed" if done else "in_progress"
    return item


def reasoning_item(ctx: ClientContext, item_id: str, parts: list[ThinkingPart]) -> dict[str, Any]:
    text = "".join(p.text for p in parts if not p.redacted)
    item: dict[str, Any] = {"type": "reasoning", "id": item_id, "summary": []}
    if text:
        item["summary"] = [{"type": "summary_text", "text": text}]
    if ctx.request.include_carriers and parts:
        provider = next((p.signature.provider for p in parts if p.signature), None)
        origin = parts[0].origin
        chosen = provider or (origin if origin != "foreign" else None)
        if chosen is not None and (provider is not None or origin == "openai"):
            item["encrypted_content"] = carrier.encode_carrier(chosen, parts)
    return item


def message_item(item_id: str, text: str, done: bool = True) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": []}] if done else []
    status = "completed" if done else "in_progress"
    return {
        "type": "message",
        "id": item_id,
        "role": "assistant",
        "status": status,
        "content": content,
    }


def response_object(
    ctx: ClientContext,
    resp_id: str,
    status: str,
    output: list[dict[str, Any]],
    usage: Usage | None,
    incomplete: dict[str, str] | None = None,
    error: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The `response` object, echoing the request's settings."""
    req = ctx.request
    tools: list[dict[str, Any]] = []
    for t in req.tools:
        if t.origin.kind == "custom":
            tools.append(
                {
                    "type": "custom",
                    "name": t.origin.client_name or t.name,
                    "description": t.description,
                }
            )
        else:
            tools.append(
                {
                    "type": "function",
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.schema,
                    "strict": t.strict,
                }
            )
    choice: Any = "auto"
    if req.tool_choice is not None:
        mode = req.tool_choice.mode
        choice = {"type": "function", "name": req.tool_choice.name} if mode == "tool" else mode
    fmt: dict[str, Any] = {"type": req.output_format.kind}
    if req.output_format.kind == "json_schema":
        fmt |= {
            "name": req.output_format.name,
            "schema": req.output_format.schema,
            "strict": req.output_format.strict,
        }
    return {
        "id": resp_id,
        "object": "response",
        "created_at": ctx.created,
        "status": status,
        "error": error,
        "incomplete_details": incomplete,
        "model": ctx.model,
        "output": output,
        "instructions": "\n\n".join(req.system) or None,
        "tools": tools,
        "tool_choice": choice,
        "parallel_tool_calls": req.parallel_tool_calls is not False,
        "temperature": req.params.temperature,
        "top_p": req.params.top_p,
        "max_output_tokens": req.params.max_output_tokens,
        "reasoning": {"effort": req.thinking.effort, "summary": None},
        "text": {"format": fmt},
        "usage": encode_usage(usage) if usage is not None else None,
        "metadata": {},
        "store": False,
    }


def encode_response(resp: Response, ctx: ClientContext) -> dict[str, Any]:
    """Canonical response → a Responses client's non-stream body."""
    output: list[dict[str, Any]] = []
    thinking: list[ThinkingPart] = []
    for part in resp.parts:
        if isinstance(part, ThinkingPart):
            thinking.append(part)
            continue
        if thinking:
            output.append(reasoning_item(ctx, mint_id("rs_", ctx.rng), thinking))
            thinking = []
        if isinstance(part, TextPart) and part.text:
            if output and output[-1]["type"] == "message":
                output[-1]["content"][0]["text"] += part.text
            else:
                output.append(message_item(mint_id("msg_", ctx.rng), part.text))
        elif isinstance(part, ToolCallPart):
            output.append(call_item(ctx, part, mint_id("fc_", ctx.rng), True))
    if thinking:
        output.append(reasoning_item(ctx, mint_id("rs_", ctx.rng), thinking))
    status, incomplete = status_of(resp.stop_reason)
    return response_object(ctx, mint_id("resp_", ctx.rng), status, output, resp.usage, incomplete)
