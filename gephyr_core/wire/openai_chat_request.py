"""OpenAI Chat Completions client requests → canonical (§2.1, §4.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gephyr_core.wire import carrier
from gephyr_core.wire.canonical import (
    MediaPart,
    Message,
    OutputFormat,
    Params,
    Part,
    Request,
    Role,
    Signature,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolChoice,
    ToolOrigin,
    ToolResultPart,
    ToolSpec,
)
from gephyr_core.wire.errors import invalid, unsupported
from gephyr_core.wire.history import normalize
from gephyr_core.wire.jsonx import arguments_object
from gephyr_core.wire.media import from_url
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
    stop_list,
    str_field,
)


def _content_parts(content: object, field: str) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(content)]
    parts: list[Part] = []
    for i, item in enumerate(lst(content, field)):
        parts += _content_item(obj(item, f"{field}[{i}]"), f"{field}[{i}]")
    return parts


def _content_item(item: Mapping[str, Any], field: str) -> list[Part]:
    kind = item.get("type")
    if kind in ("text", "input_text", "output_text") and isinstance(item.get("text"), str):
        return [TextPart(item["text"])]
    if kind == "refusal" and isinstance(item.get("refusal"), str):
        return [TextPart(item["refusal"])]
    if kind == "image_url":
        image = item.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        if not isinstance(url, str) or not url:
            raise invalid(f"{field}.image_url.url: required", f"{field}.image_url")
        return [from_url(url)]
    if kind == "input_audio":
        audio = obj(item.get("input_audio"), f"{field}.input_audio")
        data = req_str(audio, "data", f"{field}.input_audio.data")
        return [MediaPart(f"audio/{audio.get('format') or 'wav'}", data)]
    if kind == "file":
        file = obj(item.get("file"), f"{field}.file")
        file_data = file.get("file_data")
        if not isinstance(file_data, str) or not file_data:
            raise unsupported(f"{field}.file: only file_data is supported", f"{field}.file")
        media = from_url(file_data, opt_str(file, "filename"))
        if media.url is not None:  # bare base64, not a data URL
            media = MediaPart("application/pdf", file_data, None, media.filename)
        return [media]
    return []


def _text(content: object, field: str) -> str:
    return "\n".join(p.text for p in _content_parts(content, field) if isinstance(p, TextPart))


def _thinking_parts(msg: Mapping[str, Any]) -> list[Part]:
    """`thinking_blocks` (anthropic slot, or carriers) win over `reasoning_content` (openai)."""
    blocks = msg.get("thinking_blocks")
    parts: list[Part] = []
    if isinstance(blocks, list) and blocks:
        for block in blocks:
            if not isinstance(block, Mapping):
                continue
            if block.get("type") == "redacted_thinking":
                parts += carrier.read_slot(block.get("data"), "", "anthropic", redacted=True)
            else:
                text = str(block.get("thinking") or "")
                parts += carrier.read_slot(block.get("signature"), text, "anthropic")
    elif isinstance(msg.get("reasoning_content"), str) and msg["reasoning_content"]:
        parts.append(ThinkingPart(msg["reasoning_content"], None, False, "openai"))
    return parts


def _tool_call(call: Mapping[str, Any], field: str, names: dict[str, str]) -> list[Part]:
    fn = obj(call.get("function"), f"{field}.function")
    call_id = req_str(call, "id", f"{field}.id")
    name = req_str(fn, "name", f"{field}.function.name")
    names[call_id] = name
    extra = call.get("extra_content")
    google = extra.get("google") if isinstance(extra, Mapping) else None
    value = google.get("thought_signature") if isinstance(google, Mapping) else None
    lead: list[Part] = []
    sig: Signature | None = None
    if carrier.is_carrier(value):
        lead = list(carrier.decode_carrier(str(value)) or [])
    elif isinstance(value, str) and value:
        sig = Signature("gemini", value)
    return [*lead, ToolCallPart(call_id, name, arguments_object(fn.get("arguments")), sig)]


def _assistant(msg: Mapping[str, Any], field: str, names: dict[str, str]) -> list[Part]:
    parts = _thinking_parts(msg)
    parts += _content_parts(msg.get("content"), f"{field}.content")
    if isinstance(msg.get("refusal"), str) and msg["refusal"]:
        parts.append(TextPart(msg["refusal"]))
    for j, call in enumerate(lst(msg.get("tool_calls"), f"{field}.tool_calls")):
        parts += _tool_call(
            obj(call, f"{field}.tool_calls[{j}]"), f"{field}.tool_calls[{j}]", names
        )
    legacy = msg.get("function_call")
    if isinstance(legacy, Mapping) and isinstance(legacy.get("name"), str):
        call_id = f"call_legacy_{len(names)}"
        names[call_id] = legacy["name"]
        names["__legacy__"] = call_id
        args = arguments_object(legacy.get("arguments"))
        parts.append(ToolCallPart(call_id, legacy["name"], args))
    return parts


def decode_messages(raw: object) -> tuple[tuple[str, ...], tuple[Message, ...]]:
    """Chat `messages` → (system texts hoisted in order, canonical messages)."""
    if not isinstance(raw, list) or not raw:
        raise invalid("messages: a non-empty array is required", "messages")
    system: list[str] = []
    names: dict[str, str] = {}
    turns: list[tuple[Role, list[Part]]] = []
    for i, msg in enumerate(raw):
        field = f"messages[{i}]"
        msg = obj(msg, field)
        role = msg.get("role")
        if role in ("system", "developer"):
            system.append(_text(msg.get("content"), f"{field}.content"))
        elif role == "user":
            turns.append(("user", _content_parts(msg.get("content"), f"{field}.content")))
        elif role == "assistant":
            turns.append(("assistant", _assistant(msg, field, names)))
        elif role == "tool":
            call_id = req_str(msg, "tool_call_id", f"{field}.tool_call_id")
            content = tuple(
                p
                for p in _content_parts(msg.get("content"), f"{field}.content")
                if isinstance(p, TextPart | MediaPart)
            )
            turns.append(("user", [ToolResultPart(call_id, names.get(call_id, ""), content)]))
        elif role == "function":
            call_id = names.get("__legacy__", "call_legacy_0")
            text = _text(msg.get("content"), f"{field}.content")
            name = str(msg.get("name") or names.get(call_id, ""))
            turns.append(
                ("user", [ToolResultPart(call_id, name, (TextPart(text),) if text else ())])
            )
        else:
            raise invalid(f"{field}.role: unsupported role {role!r}", f"{field}.role")
    return tuple(t for t in system if t), normalize(turns)


def _tools(body: Mapping[str, Any]) -> tuple[ToolSpec, ...]:
    out: list[ToolSpec] = []
    for i, tool in enumerate(lst(body.get("tools"), "tools")):
        tool = obj(tool, f"tools[{i}]")
        if tool.get("type", "function") != "function":
            continue
        fn = obj(tool.get("function"), f"tools[{i}].function")
        out.append(_spec(fn, f"tools[{i}].function"))
    for i, fn in enumerate(lst(body.get("functions"), "functions")):
        out.append(_spec(obj(fn, f"functions[{i}]"), f"functions[{i}]"))
    return tuple(out)


def _spec(fn: Mapping[str, Any], field: str) -> ToolSpec:
    name = req_str(fn, "name", f"{field}.name")
    desc = str_field(fn)
    strict = fn.get("strict") if isinstance(fn.get("strict"), bool) else None
    return ToolSpec(
        name, desc, object_root(fn.get("parameters")), strict, ToolOrigin("function", None, name)
    )


def decode_tool_choice(value: object, field: str = "tool_choice") -> ToolChoice | None:
    """`"auto"`/`"none"`/`"required"`, `{type:"function", function:{name}}` or `{type, name}`."""
    if value is None:
        return None
    if value in ("auto", "none", "required"):
        return ToolChoice(value)
    if isinstance(value, Mapping):
        fn = value.get("function")
        name = fn.get("name") if isinstance(fn, Mapping) else value.get("name")
        if isinstance(name, str) and name:
            return ToolChoice("tool", name)
        if value.get("type") in ("auto", "none", "required"):
            return ToolChoice(value["type"])
    raise invalid(f"{field}: unsupported value", field)


def decode_output_format(value: object, field: str = "response_format") -> OutputFormat:
    if value is None:
        return OutputFormat()
    fmt = obj(value, field)
    kind = fmt.get("type")
    if kind == "json_object":
        return OutputFormat("json_object")
    if kind == "json_schema":
        spec = obj(fmt.get("json_schema", fmt), f"{field}.json_schema")
        schema = spec.get("schema")
        strict = spec.get("strict") if isinstance(spec.get("strict"), bool) else None
        name = str_field(spec, "name") or "response"
        return OutputFormat(
            "json_schema", name, dict(schema) if isinstance(schema, Mapping) else None, strict
        )
    return OutputFormat()


def decode_request(body: Mapping[str, Any]) -> Request:
    """An OpenAI Chat Completions client body → canonical request."""
    model = req_str(body, "model")
    n = opt_int(body, "n")
    if n is not None and n > 1:
        raise unsupported("n > 1 is not supported", "n")
    modalities = body.get("modalities")
    if isinstance(modalities, list) and "audio" in modalities:
        raise unsupported("audio output is not supported", "modalities")
    system, messages = decode_messages(body.get("messages"))
    choice = decode_tool_choice(body.get("tool_choice"))
    legacy = body.get("function_call")
    if choice is None and legacy is not None:
        choice = decode_tool_choice(
            legacy
            if isinstance(legacy, str)
            else {"name": obj(legacy, "function_call").get("name")},
            "function_call",
        )
    max_tokens = opt_int(body, "max_completion_tokens")
    options = obj(body.get("stream_options") or {}, "stream_options")
    user = opt_str(body, "safety_identifier") or opt_str(body, "user")
    params = Params(
        max_output_tokens=max_tokens if max_tokens is not None else opt_int(body, "max_tokens"),
        temperature=opt_float(body, "temperature"),
        top_p=opt_float(body, "top_p"),
        stop=stop_list(body.get("stop")),
        seed=opt_int(body, "seed"),
        presence_penalty=opt_float(body, "presence_penalty"),
        frequency_penalty=opt_float(body, "frequency_penalty"),
    )
    return Request(
        model=model,
        messages=messages,
        system=system,
        tools=_tools(body),
        tool_choice=choice,
        parallel_tool_calls=opt_bool(body, "parallel_tool_calls"),
        params=params,
        thinking=from_openai_effort(body.get("reasoning_effort")),
        output_format=decode_output_format(body.get("response_format")),
        stream=body.get("stream") is True,
        stream_usage=options.get("include_usage") is True,
        user=user,
        client_format="chat",
    )
