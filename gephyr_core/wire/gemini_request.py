"""Gemini generateContent client requests → canonical (§2.5); camelCase or snake_case."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gephyr_core.wire import carrier
from gephyr_core.wire.canonical import (
    MediaPart,
    OutputFormat,
    Params,
    Part,
    Request,
    Role,
    Signature,
    TextPart,
    ToolCallPart,
    ToolChoice,
    ToolOrigin,
    ToolResultPart,
    ToolSpec,
)
from gephyr_core.wire.errors import invalid, unsupported
from gephyr_core.wire.history import normalize
from gephyr_core.wire.jsonx import arguments_object, dumps
from gephyr_core.wire.media import standard_base64
from gephyr_core.wire.schema import (
    object_root,
    openapi_to_json_schema,
)
from gephyr_core.wire.thinking import from_gemini_thinking
from gephyr_core.wire.validate import lst, obj, stop_list, str_field


def g(node: Mapping[str, Any], camel: str) -> Any:
    """A field by its camelCase name or its snake_case twin."""
    if camel in node:
        return node[camel]
    return node.get(re.sub(r"(?<!^)([A-Z])", r"_\1", camel).lower())


def _strip_cli_prefix(call_id: str, name: str) -> str:
    """gemini-cli replays ids as `<name>__<id>`."""
    prefix = f"{name}__"
    return (
        call_id[len(prefix) :]
        if call_id.startswith(prefix) and len(call_id) > len(prefix)
        else call_id
    )


def _response_content(response: object) -> tuple[tuple[TextPart | MediaPart, ...], bool]:
    if isinstance(response, Mapping):
        for key, is_error in (("output", False), ("result", False), ("error", True)):
            if len(response) == 1 and isinstance(response.get(key), str):
                text = response[key]
                return ((TextPart(text),) if text else ()), is_error
    text = dumps(response if response is not None else {})
    return (TextPart(text),), False


class _Turns:
    """Decodes `contents` keeping the call ids of the previous model turn for pairing."""

    def __init__(self) -> None:
        self.turns: list[tuple[Role, list[Part]]] = []
        self.calls: list[ToolCallPart] = []
        self.used: set[str] = set()

    def content(self, turn: int, content: Mapping[str, Any], field: str) -> None:
        role_name = content.get("role") or "user"
        if role_name not in ("user", "model", "function"):
            raise invalid(f"{field}.role: must be user or model", f"{field}.role")
        role: Role = "assistant" if role_name == "model" else "user"
        parts: list[Part] = []
        calls: list[ToolCallPart] = []
        responses = 0
        for j, raw in enumerate(lst(g(content, "parts"), f"{field}.parts")):
            part = obj(raw, f"{field}.parts[{j}]")
            parts += self._part(part, turn, calls, responses, f"{field}.parts[{j}]")
            responses += 1 if g(part, "functionResponse") is not None else 0
        if role == "assistant":
            self.calls = calls
        elif responses:
            self.calls = []
        self.turns.append((role, parts))

    def _part(
        self, part: Mapping[str, Any], turn: int, calls: list[ToolCallPart], k: int, field: str
    ) -> list[Part]:
        sig = g(part, "thoughtSignature")
        text = part.get("text")
        if isinstance(text, str):
            if part.get("thought") is True:
                return list[Part](carrier.read_slot(sig, text, "gemini"))
            return [*carrier.read_slot(sig, "", "gemini"), TextPart(text)]
        if (call := g(part, "functionCall")) is not None:
            return self._call(obj(call, f"{field}.functionCall"), sig, turn, calls, field)
        if (resp := g(part, "functionResponse")) is not None:
            resp = obj(resp, f"{field}.functionResponse")
            name = str(resp.get("name") or "")
            content, is_error = _response_content(resp.get("response"))
            return [ToolResultPart(self._pair_id(resp.get("id"), name, k), name, content, is_error)]
        return _data_part(part, field)

    def _call(
        self, call: Mapping[str, Any], sig: object, turn: int, calls: list[ToolCallPart], field: str
    ) -> list[Part]:
        name = call.get("name")
        if not isinstance(name, str) or not name:
            raise invalid(f"{field}.functionCall.name: required", f"{field}.functionCall.name")
        raw_id = call.get("id")
        call_id = f"gph_{turn}_{len(calls)}"
        if isinstance(raw_id, str) and raw_id:
            call_id = _strip_cli_prefix(raw_id, name)
        lead: list[Part] = []
        signature: Signature | None = None
        if carrier.is_carrier(sig):
            lead = list(carrier.decode_carrier(str(sig)) or [])
        elif isinstance(sig, str) and sig:
            signature = Signature("gemini", sig)
        made = ToolCallPart(call_id, name, arguments_object(call.get("args")), signature)
        calls.append(made)
        return [*lead, made]

    def _pair_id(self, raw_id: object, name: str, k: int) -> str:
        """Explicit id, else the k-th call of the previous turn (by name when names disagree)."""
        if isinstance(raw_id, str) and raw_id:
            return _strip_cli_prefix(raw_id, name)
        candidates = [c for c in self.calls if c.id not in self.used]
        chosen = self.calls[k] if k < len(self.calls) and self.calls[k].name == name else None
        if chosen is None or chosen.id in self.used:
            chosen = next((c for c in candidates if c.name == name), None)
        if chosen is None:
            chosen = self.calls[k] if k < len(self.calls) else None
        if chosen is None:
            return f"gph_orphan_{k}"
        self.used.add(chosen.id)
        return chosen.id


def _data_part(part: Mapping[str, Any], field: str) -> list[Part]:
    """Media and code-execution parts."""
    if (inline := g(part, "inlineData")) is not None:
        inline = obj(inline, f"{field}.inlineData")
        return [MediaPart(g(inline, "mimeType"), standard_base64(str(inline.get("data") or "")))]
    if (file := g(part, "fileData")) is not None:
        file = obj(file, f"{field}.fileData")
        return [MediaPart(g(file, "mimeType"), None, str(g(file, "fileUri") or ""))]
    code = g(part, "executableCode")
    if isinstance(code, Mapping):
        lang = str(code.get("language") or "").lower()
        return [TextPart(f"```{lang}\n{code.get('code') or ''}\n```")]
    result = g(part, "codeExecutionResult")
    if isinstance(result, Mapping):
        return [TextPart(str(result.get("output") or ""))]
    return []


def _tools(body: Mapping[str, Any]) -> tuple[ToolSpec, ...]:
    out: list[ToolSpec] = []
    for i, tool in enumerate(lst(body.get("tools"), "tools")):
        tool = obj(tool, f"tools[{i}]")
        for j, decl in enumerate(
            lst(g(tool, "functionDeclarations"), f"tools[{i}].functionDeclarations")
        ):
            decl = obj(decl, f"tools[{i}].functionDeclarations[{j}]")
            name = decl.get("name")
            if not isinstance(name, str) or not name:
                raise invalid(
                    "function declaration name: required",
                    f"tools[{i}].functionDeclarations[{j}].name",
                )
            json_schema = g(decl, "parametersJsonSchema")
            schema = (
                json_schema
                if isinstance(json_schema, Mapping)
                else openapi_to_json_schema(decl.get("parameters"))
            )
            desc = str_field(decl)
            out.append(
                ToolSpec(name, desc, object_root(schema), None, ToolOrigin("function", None, name))
            )
    return tuple(out)


def _tool_choice(body: Mapping[str, Any]) -> ToolChoice | None:
    cfg = g(body, "toolConfig")
    fcc = g(cfg, "functionCallingConfig") if isinstance(cfg, Mapping) else None
    if not isinstance(fcc, Mapping):
        return None
    mode = str(fcc.get("mode") or "AUTO").upper()
    names = g(fcc, "allowedFunctionNames")
    if mode == "ANY":
        if isinstance(names, list) and len(names) == 1 and isinstance(names[0], str):
            return ToolChoice("tool", names[0])
        return ToolChoice("required")
    return ToolChoice("none") if mode == "NONE" else ToolChoice("auto")


def _generation(body: Mapping[str, Any]) -> tuple[Params, OutputFormat]:
    cfg = obj(g(body, "generationConfig") or {}, "generationConfig")

    def num(key: str) -> Any:
        value = g(cfg, key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise invalid(f"generationConfig.{key}: expected a number", f"generationConfig.{key}")
        return value

    count = num("candidateCount")
    if count is not None and count > 1:
        raise unsupported("candidateCount > 1 is not supported", "generationConfig.candidateCount")
    modalities = g(cfg, "responseModalities")
    if isinstance(modalities, list) and any(str(m).upper() != "TEXT" for m in modalities):
        raise unsupported(
            "only TEXT response modalities are supported", "generationConfig.responseModalities"
        )
    mime = g(cfg, "responseMimeType")
    if mime == "text/x.enum":
        raise unsupported(
            "responseMimeType text/x.enum is not supported", "generationConfig.responseMimeType"
        )
    fmt = OutputFormat()
    json_schema, openapi = g(cfg, "responseJsonSchema"), g(cfg, "responseSchema")
    if isinstance(json_schema, Mapping):
        fmt = OutputFormat("json_schema", "response", dict(json_schema))
    elif isinstance(openapi, Mapping):
        fmt = OutputFormat("json_schema", "response", openapi_to_json_schema(dict(openapi)))
    elif mime == "application/json":
        fmt = OutputFormat("json_object")
    params = Params(
        max_output_tokens=None if num("maxOutputTokens") is None else int(num("maxOutputTokens")),
        temperature=num("temperature"),
        top_p=num("topP"),
        top_k=None if num("topK") is None else int(num("topK")),
        stop=stop_list(g(cfg, "stopSequences"), "generationConfig.stopSequences"),
        seed=None if num("seed") is None else int(num("seed")),
        presence_penalty=num("presencePenalty"),
        frequency_penalty=num("frequencyPenalty"),
    )
    return params, fmt


def decode_request(body: Mapping[str, Any], *, model: str, stream: bool = False) -> Request:
    """A Gemini client body (model from the path) → canonical request."""
    if g(body, "cachedContent") is not None:
        raise unsupported("cachedContent is not supported", "cachedContent")
    contents = g(body, "contents")
    if not isinstance(contents, list):
        raise invalid("contents: an array is required", "contents")
    turns = _Turns()
    for i, content in enumerate(contents):
        turns.content(i, obj(content, f"contents[{i}]"), f"contents[{i}]")
    system_raw = g(body, "systemInstruction")
    system: list[str] = []
    if isinstance(system_raw, str):
        system.append(system_raw)
    elif isinstance(system_raw, Mapping):
        system += [
            str(p["text"])
            for p in lst(g(system_raw, "parts"), "systemInstruction.parts")
            if isinstance(p, Mapping) and isinstance(p.get("text"), str)
        ]
    params, fmt = _generation(body)
    cfg = g(body, "generationConfig")
    thinking = from_gemini_thinking(g(cfg, "thinkingConfig") if isinstance(cfg, Mapping) else None)
    return Request(
        model=model,
        messages=normalize(turns.turns),
        system=tuple(s for s in system if s),
        tools=_tools(body),
        tool_choice=_tool_choice(body),
        params=params,
        thinking=thinking,
        output_format=fmt,
        stream=stream,
        stream_usage=True,
        client_format="gemini",
    )


def decode_count_tokens(body: Mapping[str, Any], *, model: str) -> Request:
    """A `:countTokens` body: `{contents}` or `{generateContentRequest:{…}}` (§7)."""
    inner = g(body, "generateContentRequest")
    return decode_request(inner if isinstance(inner, Mapping) else body, model=model)
