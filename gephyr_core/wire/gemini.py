"""Gemini generateContent ⇄ canonical: client and upstream requests, responses (§2.5).

Client bodies accept camelCase and snake_case names; Gephyr emits camelCase.
"""

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
    Part,
    Request,
    Response,
    Signature,
    StopReason,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
    Usage,
    int_or_zero,
)
from gephyr_core.wire.errors import invalid
from gephyr_core.wire.gemini_request import decode_count_tokens as decode_count_tokens
from gephyr_core.wire.gemini_request import decode_request as decode_request
from gephyr_core.wire.history import prepare_history
from gephyr_core.wire.ids import (
    GEMINI_BYPASS_SIGNATURE,
    UpstreamContext,
    mint_id,
    upstream_tool_name,
)
from gephyr_core.wire.media import is_files_api_uri
from gephyr_core.wire.schema import (
    full_clean,
    has_properties,
    light_clean,
)
from gephyr_core.wire.thinking import gemini_thinking

_FILTER = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"}
STOP_TO: dict[StopReason, str] = {
    "end_turn": "STOP",
    "stop_sequence": "STOP",
    "max_tokens": "MAX_TOKENS",
    "context_window_exceeded": "MAX_TOKENS",
    "tool_use": "STOP",
    "content_filter": "SAFETY",
    "pause_turn": "STOP",
    "other": "STOP",
}


def stop_from(reason: str) -> StopReason:
    if reason == "STOP":
        return "end_turn"
    if reason == "MAX_TOKENS":
        return "max_tokens"
    if reason in _FILTER or reason.startswith("IMAGE_"):
        return "content_filter"
    return "other"


# ---------------------------------------------------------------- canonical → upstream request


def _media(part: MediaPart) -> dict[str, Any]:
    if part.data is not None:
        return {
            "inlineData": {
                "mimeType": part.mime_type or "application/octet-stream",
                "data": part.data,
            }
        }
    url = part.url or ""
    if is_files_api_uri(url) or url.startswith("gs://"):
        file: dict[str, Any] = {"fileUri": url}
        if part.mime_type:
            file["mimeType"] = part.mime_type
        return {"fileData": file}
    raise invalid("media URLs must be fetched and inlined for gemini (fetch_image_urls)")


def _model_parts(message: Message, names: Mapping[str, str]) -> list[dict[str, Any]]:
    sigs = [
        p.signature.value
        for p in message.parts
        if isinstance(p, ThinkingPart | ToolCallPart)
        and p.signature
        and p.signature.provider == "gemini"
        and not (isinstance(p, ThinkingPart) and p.redacted)
    ]
    parts: list[dict[str, Any]] = []
    calls = 0
    for p in message.parts:
        if isinstance(p, TextPart):
            parts.append({"text": p.text})
        elif isinstance(p, MediaPart):
            parts.append(_media(p))
        elif isinstance(p, ToolCallPart):
            name = names.get(p.name) or upstream_tool_name(p.name, "gemini")
            part: dict[str, Any] = {"functionCall": {"id": p.id, "name": name, "args": p.arguments}}
            part["thoughtSignature"] = sigs[calls] if calls < len(sigs) else GEMINI_BYPASS_SIGNATURE
            calls += 1
            parts.append(part)
    if not calls and sigs and parts:
        parts[-1]["thoughtSignature"] = sigs[0]
    return parts


def _user_parts(message: Message, names: Mapping[str, str]) -> list[dict[str, Any]]:
    responses: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    for p in message.parts:
        if isinstance(p, ToolResultPart):
            key = "error" if p.is_error else "output"
            name = names.get(p.name) or upstream_tool_name(p.name, "gemini")
            response = {"id": p.call_id, "name": name, "response": {key: p.text}}
            responses.append({"functionResponse": response})
            images += [_media(c) for c in p.content if isinstance(c, MediaPart)]
        elif isinstance(p, TextPart):
            rest.append({"text": p.text})
        elif isinstance(p, MediaPart):
            rest.append(_media(p))
    return [*responses, *images, *rest]


def _declaration(tool: ToolSpec, name: str, mode: str) -> dict[str, Any]:
    decl: dict[str, Any] = {"name": name, "description": tool.description}
    cleaned = full_clean(tool.schema) if mode == "openapi" else light_clean(tool.schema)
    if has_properties(cleaned):
        decl["parameters" if mode == "openapi" else "parametersJsonSchema"] = cleaned
    return decl


def encode_request(req: Request, opts: EncodeOptions = DEFAULT_OPTIONS) -> dict[str, Any]:
    """Canonical request → Gemini upstream body (the model goes in the URL path)."""
    names = {t.name: upstream_tool_name(t.name, "gemini") for t in req.tools}
    contents: list[dict[str, Any]] = []
    for message in prepare_history(req.messages):
        if message.role == "assistant":
            parts = _model_parts(message, names)
            if parts:
                contents.append({"role": "model", "parts": parts})
        else:
            contents.append({"role": "user", "parts": _user_parts(message, names)})
    body: dict[str, Any] = {"contents": contents}
    system = [{"text": t} for t in req.system if t]
    if system:
        body["systemInstruction"] = {"parts": system}
    if req.tools:
        decls = [_declaration(t, names[t.name], opts.gemini_schema_mode) for t in req.tools]
        body["tools"] = [{"functionDeclarations": decls}]
    if req.tool_choice is not None:
        fcc: dict[str, Any] = {
            "mode": {"auto": "AUTO", "none": "NONE"}.get(req.tool_choice.mode, "ANY")
        }
        if req.tool_choice.mode == "tool" and req.tool_choice.name:
            fcc["allowedFunctionNames"] = [
                names.get(req.tool_choice.name)
                or upstream_tool_name(req.tool_choice.name, "gemini")
            ]
        body["toolConfig"] = {"functionCallingConfig": fcc}
    gen = _generation_config(req, opts)
    if gen:
        body["generationConfig"] = gen
    return body


def _generation_config(req: Request, opts: EncodeOptions) -> dict[str, Any]:
    p = req.params
    gen: dict[str, Any] = {}
    for key, value in (
        ("maxOutputTokens", p.max_output_tokens),
        ("temperature", None if p.temperature is None else min(max(p.temperature, 0.0), 2.0)),
        ("topP", p.top_p),
        ("topK", p.top_k),
        ("seed", p.seed),
        ("presencePenalty", p.presence_penalty),
        ("frequencyPenalty", p.frequency_penalty),
    ):
        if value is not None:
            gen[key] = value
    if p.stop:
        gen["stopSequences"] = list(p.stop[:5])
    fmt = req.output_format
    if fmt.kind in ("json_object", "json_schema"):
        gen["responseMimeType"] = "application/json"
    if fmt.kind == "json_schema" and fmt.schema is not None:
        if opts.gemini_schema_mode == "openapi":
            gen["responseSchema"] = full_clean(fmt.schema)
        else:
            gen["responseJsonSchema"] = light_clean(fmt.schema)
    thinking = gemini_thinking(req.thinking, req.model)
    if thinking is not None:
        gen["thinkingConfig"] = thinking
    return gen


# ---------------------------------------------------------------- usage and responses


def decode_usage(meta: object) -> Usage:
    if not isinstance(meta, Mapping):
        return Usage()
    thoughts = int_or_zero(meta.get("thoughtsTokenCount"))
    return Usage(
        int_or_zero(meta.get("promptTokenCount"))
        + int_or_zero(meta.get("toolUsePromptTokenCount")),
        int_or_zero(meta.get("cachedContentTokenCount")),
        0,
        int_or_zero(meta.get("candidatesTokenCount")) + thoughts,
        thoughts,
    )


def encode_usage(usage: Usage) -> dict[str, int]:
    thoughts = min(usage.reasoning, usage.output_total)  # reasoning lies inside the output
    out = {
        "promptTokenCount": usage.input_total,
        "candidatesTokenCount": usage.output_total - thoughts,
        "totalTokenCount": usage.total,
    }
    if thoughts:
        out["thoughtsTokenCount"] = thoughts
    if usage.cache_read:
        out["cachedContentTokenCount"] = usage.cache_read
    return out


def decode_response(body: Mapping[str, Any], ctx: UpstreamContext) -> Response:
    """A Gemini upstream non-stream answer (the same shape as one chunk) → canonical response."""
    from gephyr_core.wire.events import aggregate
    from gephyr_core.wire.gemini_stream import GeminiStreamDecoder

    decoder = GeminiStreamDecoder(ctx)
    return aggregate([*decoder.feed_payload(body), *decoder.close()])


def first_call_signature(thinking: list[ThinkingPart], own: Signature | None) -> str | None:
    """`thoughtSignature` of an answer's first call: gemini natives, else one turn carrier."""
    foreign = [t for t in thinking if t.origin in ("anthropic", "openai")]
    if foreign:
        provider = foreign[0].origin
        assert provider in ("anthropic", "openai")
        return carrier.encode_carrier(provider, [t for t in foreign if t.origin == provider])
    if own is not None:
        return (
            own.value
            if own.provider == "gemini"
            else carrier.encode_carrier(own.provider, [ThinkingPart("", own)])
        )
    native = next(
        (t.signature for t in thinking if t.signature and t.signature.provider == "gemini"), None
    )
    return native.value if native else None


def encode_parts(
    parts: tuple[Part, ...] | list[Part], include_thoughts: bool
) -> list[dict[str, Any]]:
    """Answer parts as a gemini client sees them; the turn's thinking rides the first call."""
    out: list[dict[str, Any]] = []
    thinking: list[ThinkingPart] = []
    first = True
    for p in parts:
        if isinstance(p, ThinkingPart):
            thinking.append(p)
            if include_thoughts and p.text and not p.redacted:
                out.append({"text": p.text, "thought": True})
        elif isinstance(p, TextPart) and p.text:
            out.append({"text": p.text})
        elif isinstance(p, ToolCallPart):
            part: dict[str, Any] = {
                "functionCall": {"id": p.id, "name": p.name, "args": p.arguments}
            }
            sig = (
                first_call_signature(thinking, p.signature)
                if first
                else (
                    p.signature.value if p.signature and p.signature.provider == "gemini" else None
                )
            )
            if sig:
                part["thoughtSignature"] = sig
            first = False
            out.append(part)
    return out


def encode_response(resp: Response, ctx: ClientContext) -> dict[str, Any]:
    """Canonical response → a Gemini client's generateContent body."""
    parts = encode_parts(resp.parts, ctx.request.thinking.include_thoughts)
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": parts},
                "finishReason": STOP_TO[resp.stop_reason],
                "index": 0,
            }
        ],
        "usageMetadata": encode_usage(resp.usage),
        "modelVersion": ctx.model,
        "responseId": mint_id("", ctx.rng),
    }


def encode_count_tokens(req: Request, opts: EncodeOptions = DEFAULT_OPTIONS) -> dict[str, Any]:
    """`:countTokens` body toward gemini: `{generateContentRequest:{model, contents, …}}`."""
    full = encode_request(req, opts)
    inner: dict[str, Any] = {"model": f"models/{req.model}", "contents": full["contents"]}
    for key in ("systemInstruction", "tools"):
        if key in full:
            inner[key] = full[key]
    return {"generateContentRequest": inner}
