"""OpenAI Chat Completions emulator: ``POST /v1/chat/completions``, ``GET /v1/models``.

Auth is ``Authorization: Bearer <key>``; every response carries ``x-ratelimit-*`` headers.
Thinking in a :class:`Reply` is sent as the non-standard ``reasoning_content`` field used by
OpenAI-compatible providers.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.emulators.asgi import (
    SSE_HEADERS,
    ScriptedResponse,
    bearer,
    char_chunks,
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
    Raw,
    Reply,
    Usage,
    count_value_tokens,
    mint_id,
    resolve_usage,
    shape_output,
)
from tests.emulators.validation import validate_openai_chat

API_KEY = "sk-emu-openai-0001"
MODELS = ("gpt-4o-mini", "gpt-4.1", "o3-mini")
FINISH = {"end": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}
_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("permission_error", None, "You are not allowed to sample from this model."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def format_duration(seconds: float) -> str:
    """OpenAI reset durations: ``20ms``, ``1s``, ``6m0s``, ``1h2m3.5s``."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{int(hours)}h{int(minutes)}m{text}"
    return f"{int(minutes)}m{text}" if minutes else text


def error_body(error: Error) -> dict[str, Any]:
    """The OpenAI error object for an :class:`Error` (its ``body`` wins when set)."""
    if error.body is not None:
        return dict(error.body)
    kind, code, message = _ERRORS.get(error.status, ("server_error", None, "Upstream error."))
    return {
        "error": {
            "message": error.message or message,
            "type": error.type or kind,
            "param": None,
            "code": error.code if error.code is not None else code,
        }
    }


def _headers(emulator: Emulator, extra: dict[str, str]) -> dict[str, str]:
    limits = emulator.rate_limits
    requests, tokens = emulator.remaining()
    return {
        "x-request-id": mint_id("req_", 32),
        "openai-processing-ms": "1",
        "x-ratelimit-limit-requests": str(limits.requests_limit),
        "x-ratelimit-remaining-requests": str(requests),
        "x-ratelimit-reset-requests": format_duration(limits.requests_reset_seconds),
        "x-ratelimit-limit-tokens": str(limits.tokens_limit),
        "x-ratelimit-remaining-tokens": str(tokens),
        "x-ratelimit-reset-tokens": format_duration(limits.tokens_reset_seconds),
        **extra,
    }


def _error_response(emulator: Emulator, error: Error) -> Response:
    headers = dict(error.headers)
    if error.retry_after is not None:
        headers.setdefault("retry-after", f"{error.retry_after:g}")
    return json_response(
        error_body(error),
        status=error.status,
        headers=_headers(emulator, headers),
        delay=error.delay,
    )


def _mask(key: str) -> str:
    return key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 10 else "***"


def _authenticate(emulator: Emulator, headers: dict[str, str]) -> Error | None:
    key = bearer(headers)
    if not key:
        message = (
            "You didn't provide an API key. You need to provide your API key in an Authorization "
            "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        )
        body = {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        }
        return Error(401, body=body)
    if key not in emulator.api_keys:
        return Error(
            401,
            f"Incorrect API key provided: {_mask(key)}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
        )
    return None


def usage_object(usage: Usage) -> dict[str, Any]:
    prompt: dict[str, int] = {"cached_tokens": usage.cache_read, "audio_tokens": 0}
    if usage.cache_write:
        prompt["cache_write_tokens"] = usage.cache_write
    return {
        "prompt_tokens": usage.input,
        "completion_tokens": usage.output,
        "total_tokens": (usage.input or 0) + (usage.output or 0),
        "prompt_tokens_details": prompt,
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning or 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


async def chat_completions(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    recorded = await record(request, emulator, "generate")
    denied = _authenticate(emulator, recorded.headers)
    if denied:
        return _error_response(emulator, denied)
    invalid = validate_openai_chat(recorded.body)
    if invalid:
        body = {
            "error": {
                "message": invalid.message,
                "type": "invalid_request_error",
                "param": invalid.param,
                "code": invalid.code,
            }
        }
        return _error_response(emulator, Error(400, body=body))
    behaviour = emulator.next_behaviour("generate") or Reply(text=_echo(recorded.body))
    if isinstance(behaviour, Error):
        return _error_response(emulator, behaviour)
    if isinstance(behaviour, Raw):
        return raw_response(behaviour)
    return _render(emulator, recorded.body, behaviour)


def _echo(body: dict[str, Any]) -> str:
    for message in reversed(body["messages"]):
        if message.get("role") == "user":
            content = message.get("content")
            texts = (
                [content]
                if isinstance(content, str)
                else [p.get("text", "") for p in content or [] if isinstance(p, dict)]
            )
            return f"echo: {' '.join(t for t in texts if t)}".rstrip()
    return "echo:"


def _render(emulator: Emulator, body: dict[str, Any], reply: Reply) -> Response:
    limit = body.get("max_completion_tokens")
    limit = body.get("max_tokens") if limit is None else limit
    stop = body.get("stop") or []
    output = shape_output(reply, max_tokens=limit, stop=[stop] if isinstance(stop, str) else stop)
    usage = resolve_usage(reply, output, count_value_tokens(body["messages"]))
    emulator.count_usage((usage.input or 0) + (usage.output or 0))
    usage_json = reply.raw_usage if reply.raw_usage is not None else usage_object(usage)
    finish = reply.stop or FINISH[output.reason]
    calls = [(c.id or mint_id("call_"), c.name, dumps(c.arguments)) for c in output.tool_calls]
    base = {
        "id": mint_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": reply.model or body["model"],
        "system_fingerprint": "fp_emulator",
        "service_tier": "default",
    }
    headers = _headers(emulator, reply.headers)
    if not body.get("stream"):
        message: dict[str, Any] = {
            "role": "assistant",
            "content": output.text or None,
            "refusal": None,
            "annotations": [],
        }
        if output.thinking:
            message["reasoning_content"] = output.thinking
        if calls:
            message["tool_calls"] = [
                {"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in calls
            ]
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        payload = {**base, "choices": [choice], "usage": usage_json}
        frames, abort = split_for_drop(dumps(payload).encode(), reply.drop_after)
        return ScriptedResponse(
            frames, headers=headers, delay=reply.delay, abort_after=abort, content_length=True
        )
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    chunk_base = {**base, "object": "chat.completion.chunk"}  # keeps the key order

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        data: dict[str, Any] = {**chunk_base, "choices": [choice]}
        if include_usage:
            data["usage"] = None
        return _sse(data)

    content = [chunk({"role": "assistant", "content": "", "refusal": None})]
    content += [chunk({"reasoning_content": t}) for t in word_chunks(output.thinking, reply.chunk_words)]
    content += [chunk({"content": t}) for t in word_chunks(output.text, reply.chunk_words)]
    for index, (call_id, name, arguments) in enumerate(calls):
        first = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        content.append(chunk({"tool_calls": [first]}))
        content += [
            chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            for piece in char_chunks(arguments, reply.arg_chunk)
        ]
    tail = [chunk({}, finish)]
    if include_usage:
        tail.append(_sse({**chunk_base, "choices": [], "usage": usage_json}))
    tail.append(b"data: [DONE]\n\n")
    frames = finish_frames(content, tail, reply, lambda e: _sse(error_body(e)))
    return ScriptedResponse(
        frames,
        headers={**headers, **SSE_HEADERS},
        media_type="text/event-stream",
        delay=reply.delay,
        chunk_delay=reply.chunk_delay,
        abort_after=reply.drop_after,
    )


def _sse(data: Any) -> bytes:
    return f"data: {dumps(data)}\n\n".encode()


def _model(emulator: Emulator, name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1_700_000_000, "owned_by": emulator.provider}


async def list_models(request: Request) -> Response:
    emulator: Emulator = request.app.state.emulator
    recorded = await record(request, emulator, "models")
    denied = _authenticate(emulator, recorded.headers)
    if denied:
        return _error_response(emulator, denied)
    behaviour = emulator.next_behaviour("models")
    if isinstance(behaviour, Error):
        return _error_response(emulator, behaviour)
    if isinstance(behaviour, Raw):
        return raw_response(behaviour)
    name = request.path_params.get("model")
    if name is None:
        body = {"object": "list", "data": [_model(emulator, m) for m in emulator.models]}
        return json_response(body, headers=_headers(emulator, {}))
    if name not in emulator.models:
        message = f"The model `{name}` does not exist or you do not have access to it."
        return _error_response(emulator, Error(404, message))
    return json_response(_model(emulator, name), headers=_headers(emulator, {}))


def create_app(emulator: Emulator | None = None) -> Starlette:
    """The OpenAI emulator app; its state lives in ``app.state.emulator``."""
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/v1/models/{model:path}", list_models, methods=["GET"]),
        ]
    )
    app.state.emulator = emulator or new_emulator()
    return app


def new_emulator() -> Emulator:
    return Emulator("openai", api_keys=[API_KEY], models=MODELS)


__all__ = ["API_KEY", "MODELS", "create_app", "error_body", "format_duration", "new_emulator"]
