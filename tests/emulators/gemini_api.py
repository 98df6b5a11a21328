"""Gemini API emulator: ``{v}/models/{model}:generateContent|streamGenerateContent|countTokens``.

Served under ``/v1beta`` and ``/v1`` (google-genai defaults to ``v1``). Auth is
``x-goog-api-key``, ``?key=`` or ``Authorization: Bearer`` with a token from
``Emulator.bearer_tokens``. As the real API: an unknown key answers 400 ``API_KEY_INVALID``,
an unknown bearer token 401, no credential 403. Thought parts are sent only when
``thinkingConfig.includeThoughts`` is set; ``thoughtsTokenCount`` is reported regardless.
For errors, ``Error.code`` names the ``QuotaFailure`` ``quotaId`` on 429, else an
``ErrorInfo`` reason.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.emulators.asgi import (
    SSE_HEADERS,
    ScriptedResponse,
    bearer,
    dumps,
    finish_frames,
    json_response,
    raw_response,
    record,
    split_for_drop,
    word_chunks,
)
from tests.emulators.script import (
    Emulator,
    Error,
    Output,
    Raw,
    RecordedRequest,
    Reply,
    Usage,
    count_value_tokens,
    mint_id,
    resolve_usage,
    shape_output,
)
from tests.emulators.validation import validate_gemini

API_KEY = "AIzaEmuGeminiKey0001"
OAUTH_TOKEN = "ya29.emu-oauth-token-0001"
MODELS = ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-3-pro-preview")
FINISH = {"end": "STOP", "stop_sequence": "STOP", "max_tokens": "MAX_TOKENS", "tool_use": "STOP"}
STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_MESSAGES = {
    400: "Request contains an invalid argument.",
    401: "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    429: "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
    500: "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
}


def quota_details(
    model: str, *, quota_id: str, quota_value: str = "10", retry_delay: str = "37s"
) -> list[dict[str, Any]]:
    """``error.details`` of a Gemini 429: ``QuotaFailure``, ``Help`` and ``RetryInfo``."""
    metric = "generate_content_free_tier_requests"
    return [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": f"generativelanguage.googleapis.com/{metric}",
                    "quotaId": quota_id,
                    "quotaDimensions": {"location": "global", "model": model},
                    "quotaValue": quota_value,
                }
            ],
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {
                    "description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                }
            ],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay},
    ]


def error_body(error: Error, model: str = "") -> dict[str, Any]:
    """The Gemini error object for an :class:`Error` (its ``body`` wins when set)."""
    if error.body is not None:
        return dict(error.body)
    status = error.type or STATUS.get(error.status, "INTERNAL")
    message = error.message or _MESSAGES.get(error.status, "An internal error has occurred.")
    inner: dict[str, Any] = {"code": error.status, "message": message, "status": status}
    if error.status == 429:
        delay = 37.0 if error.retry_after is None else error.retry_after
        quota_id = error.code or "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
        inner["details"] = quota_details(model, quota_id=quota_id, retry_delay=f"{delay:g}s")
    elif error.code:
        inner["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": error.code,
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ]
    return {"error": inner}


def _error_response(error: Error, model: str = "") -> Response:
    headers = {"x-gemini-service-tier": "standard", **error.headers}
    return json_response(error_body(error, model), status=error.status, headers=headers, delay=error.delay)


def _check(emulator: Emulator, recorded: RecordedRequest) -> Error | None:
    key = recorded.headers.get("x-goog-api-key") or recorded.query.get("key")
    token = bearer(recorded.headers)
    if key:
        if key in emulator.api_keys:
            return None
        return Error(400, "API key not valid. Please pass a valid API key.", code="API_KEY_INVALID")
    if token:
        return None if token in emulator.bearer_tokens else Error(401, code="ACCESS_TOKEN_EXPIRED")
    return Error(
        403,
        "Method doesn't allow unregistered callers (callers without established identity). "
        "Please use API Key or other form of API consumer identity to call this API.",
    )


def _field(body: dict[str, Any], camel: str, snake: str) -> Any:
    return body.get(camel, body.get(snake))


async def model_action(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    model, _, action = request.path_params["target"].rpartition(":")
    route = "count_tokens" if action == "countTokens" else "generate"
    recorded = await record(request, emulator, route)
    denied = _check(emulator, recorded)
    if denied:
        return _error_response(denied, model)
    if action not in ("generateContent", "streamGenerateContent", "countTokens") or not model:
        return _error_response(Error(404, f"Method not found: {action}"), model)
    body = recorded.body
    if route == "count_tokens" and isinstance(body, dict):
        body = _field(body, "generateContentRequest", "generate_content_request") or body
    invalid = validate_gemini(body, model)
    if invalid:
        return _error_response(Error(400, invalid.message), model)
    behaviour = emulator.next_behaviour(route)
    if isinstance(behaviour, Error):
        return _error_response(behaviour, model)
    if isinstance(behaviour, Raw):
        return raw_response(behaviour)
    if route == "count_tokens":
        tokens = _input_tokens(body)
        if behaviour is not None and behaviour.usage and behaviour.usage.input is not None:
            tokens = behaviour.usage.input
        details = [{"modality": "TEXT", "tokenCount": tokens}]
        return json_response({"totalTokens": tokens, "promptTokensDetails": details})
    reply = behaviour or Reply(text=_echo(body))
    stream = action == "streamGenerateContent"
    return _render(emulator, body, model, reply, stream, sse=recorded.query.get("alt") == "sse")


def _input_tokens(body: dict[str, Any]) -> int:
    system = _field(body, "systemInstruction", "system_instruction")
    return count_value_tokens(body["contents"], system)


def _echo(body: dict[str, Any]) -> str:
    for content in reversed(body["contents"]):
        if content.get("role", "user") == "user":
            texts = [p["text"] for p in content["parts"] if p.get("text") and not p.get("thought")]
            return f"echo: {' '.join(texts)}".rstrip()
    return "echo:"


def usage_metadata(usage: Usage) -> dict[str, Any]:
    prompt = usage.input or 0
    reasoning = usage.reasoning or 0
    meta: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": max(0, (usage.output or 0) - reasoning),
        "totalTokenCount": prompt + (usage.output or 0),
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    }
    if reasoning:
        meta["thoughtsTokenCount"] = reasoning
    if usage.cache_read:
        meta["cachedContentTokenCount"] = usage.cache_read
    return meta


def _parts(
    reply: Reply, output: Output, model: str, thoughts: bool, words: int
) -> list[list[dict[str, Any]]]:
    """Parts grouped per stream chunk (a non-stream answer joins them)."""
    groups: list[list[dict[str, Any]]] = []
    if thoughts:
        groups += [[{"text": t, "thought": True}] for t in word_chunks(output.thinking, words)]
    groups += [[{"text": t}] for t in word_chunks(output.text, words)]
    calls: list[dict[str, Any]] = []
    for call in output.tool_calls:
        function: dict[str, Any] = {"name": call.name, "args": call.arguments}
        if call.id:
            function["id"] = call.id
        calls.append({"functionCall": function})
    if calls:
        groups.append(calls)
    signature = reply.signature
    if signature is None and (output.thinking or (calls and model.startswith("gemini-3"))):
        signature = mint_id("CiQB", 40)
    if signature and groups:
        target = calls[0] if calls else groups[-1][-1]
        target["thoughtSignature"] = signature
    return groups


def _render(
    emulator: Emulator, body: dict[str, Any], model: str, reply: Reply, stream: bool, sse: bool
) -> Response:
    config = _field(body, "generationConfig", "generation_config") or {}
    thinking = _field(config, "thinkingConfig", "thinking_config") or {}
    stop = _field(config, "stopSequences", "stop_sequences") or []
    limit = _field(config, "maxOutputTokens", "max_output_tokens")
    output = shape_output(reply, max_tokens=limit, stop=stop)
    usage = resolve_usage(reply, output, _input_tokens(body))
    emulator.count_usage((usage.input or 0) + (usage.output or 0))
    meta = reply.raw_usage if reply.raw_usage is not None else usage_metadata(usage)
    thoughts = bool(_field(thinking, "includeThoughts", "include_thoughts"))
    groups = _parts(reply, output, model, thoughts, reply.chunk_words if stream else 10**9)
    finish = reply.stop or FINISH[output.reason]
    base = {"modelVersion": reply.model or model, "responseId": mint_id("", 22)}
    headers = {"x-gemini-service-tier": "standard", **reply.headers}

    def chunk(parts: list[dict[str, Any]], last: bool) -> dict[str, Any]:
        content: dict[str, Any] = {"role": "model"}
        if parts:
            content = {"parts": parts, "role": "model"}
        candidate: dict[str, Any] = {"content": content, "index": 0}
        usage_part: dict[str, Any] = meta
        if last:
            candidate["finishReason"] = finish
        else:
            usage_part = {"promptTokenCount": usage.input, "totalTokenCount": usage.input}
        return {"candidates": [candidate], "usageMetadata": usage_part, **base}

    if not stream:
        payload = chunk([p for group in groups for p in group], True)
        frames, abort = split_for_drop(dumps(payload).encode(), reply.drop_after)
        return ScriptedResponse(
            frames, headers=headers, delay=reply.delay, abort_after=abort, content_length=True
        )
    groups = groups or [[]]
    chunks = [chunk(g, i == len(groups) - 1) for i, g in enumerate(groups)]
    if sse:
        encoded = [f"data: {dumps(c)}\r\n\r\n".encode() for c in chunks]
        render_error = _sse_error(model)
        headers.update(SSE_HEADERS)
    else:
        encoded = [(b"[" if i == 0 else b",\r\n") + dumps(c).encode() for i, c in enumerate(chunks)]
        encoded[-1] += b"]"
        cut = len(encoded) - 1 if reply.error_after is None else reply.error_after
        render_error = _array_error(model, first=cut == 0)
    frames = finish_frames(encoded[:-1], encoded[-1:], reply, render_error)
    return ScriptedResponse(
        frames,
        headers=headers,
        media_type="text/event-stream" if sse else "application/json",
        delay=reply.delay,
        chunk_delay=reply.chunk_delay,
        abort_after=reply.drop_after,
    )


def _sse_error(model: str) -> Any:
    return lambda error: f"data: {dumps(error_body(error, model))}\r\n\r\n".encode()


def _array_error(model: str, *, first: bool) -> Any:
    prefix = b"[" if first else b",\r\n"
    return lambda error: prefix + dumps(error_body(error, model)).encode() + b"]"


def _model(name: str) -> dict[str, Any]:
    return {
        "name": f"models/{name}",
        "version": "001",
        "displayName": name,
        "description": f"Emulated {name}",
        "inputTokenLimit": 1_048_576,
        "outputTokenLimit": 65_536,
        "temperature": 1,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2,
        "thinking": True,
        "supportedGenerationMethods": ["generateContent", "countTokens", "streamGenerateContent"],
    }


async def models(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    recorded = await record(request, emulator, "models")
    denied = _check(emulator, recorded)
    if denied:
        return _error_response(denied)
    behaviour = emulator.next_behaviour("models")
    if isinstance(behaviour, Error):
        return _error_response(behaviour)
    if isinstance(behaviour, Raw):
        return raw_response(behaviour)
    name = request.path_params.get("target")
    if name is not None:
        if name not in emulator.models:
            version = request.url.path.split("/")[1]
            message = (
                f"models/{name} is not found for API version {version}, or is not "
                "supported for generateContent. Call ListModels to see the list of "
                "available models and their supported methods."
            )
            return _error_response(Error(404, message))
        return json_response(_model(name))
    size = int(recorded.query.get("pageSize") or 50)
    offset = int(recorded.query.get("pageToken") or 0)
    page: dict[str, Any] = {"models": [_model(m) for m in emulator.models[offset : offset + size]]}
    if offset + size < len(emulator.models):
        page["nextPageToken"] = str(offset + size)
    return json_response(page)


def create_app(emulator: Emulator | None = None) -> Starlette:
    """The Gemini emulator app; its state lives in ``app.state.emulator``."""
    routes: list[Route] = []
    for version in ("v1beta", "v1"):
        routes += [
            Route(f"/{version}/models", models, methods=["GET"]),
            Route(f"/{version}/models/{{target}}", model_action, methods=["POST"]),
            Route(f"/{version}/models/{{target}}", models, methods=["GET"]),
        ]
    app = Starlette(routes=routes)
    app.state.emulator = emulator or new_emulator()
    return app


def new_emulator() -> Emulator:
    return Emulator("gemini", api_keys=[API_KEY], bearer_tokens=[OAUTH_TOKEN], models=MODELS)


__all__ = [
    "API_KEY",
    "MODELS",
    "OAUTH_TOKEN",
    "create_app",
    "error_body",
    "new_emulator",
    "quota_details",
]
