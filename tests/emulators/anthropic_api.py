"""Anthropic Messages emulator: ``/v1/messages``, ``/v1/messages/count_tokens``, ``/v1/models``.

Auth is ``x-api-key`` (or ``Authorization: Bearer``, which recent SDKs send); an
``anthropic-version`` header is required. Thinking blocks appear only when the request
enables thinking. Responses carry ``request-id`` and ``anthropic-ratelimit-*`` headers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
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
from tests.emulators.validation import validate_anthropic

API_KEY = "sk-ant-emu-0001"
MODELS = ("claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5")
STOP = {
    "end": "end_turn",
    "stop_sequence": "stop_sequence",
    "max_tokens": "max_tokens",
    "tool_use": "tool_use",
}
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    403: (
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


def error_body(error: Error, request_id: str | None = None) -> dict[str, Any]:
    """The Anthropic error object for an :class:`Error` (its ``body`` wins when set)."""
    if error.body is not None:
        return dict(error.body)
    kind, message = _ERRORS.get(error.status, ("api_error", "Internal server error"))
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": error.type or kind, "message": error.message or message},
    }
    if request_id:
        body["request_id"] = request_id
    return body


def _rfc3339(seconds: float) -> str:
    moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return moment.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _headers(emulator: Emulator, request_id: str, extra: dict[str, str]) -> dict[str, str]:
    limits = emulator.rate_limits
    requests, tokens = emulator.remaining()
    headers = {
        "request-id": request_id,
        "anthropic-ratelimit-requests-limit": str(limits.requests_limit),
        "anthropic-ratelimit-requests-remaining": str(requests),
        "anthropic-ratelimit-requests-reset": _rfc3339(limits.requests_reset_seconds),
    }
    for kind in ("tokens", "input-tokens", "output-tokens"):
        headers[f"anthropic-ratelimit-{kind}-limit"] = str(limits.tokens_limit)
        headers[f"anthropic-ratelimit-{kind}-remaining"] = str(tokens)
        headers[f"anthropic-ratelimit-{kind}-reset"] = _rfc3339(limits.tokens_reset_seconds)
    return {**headers, **extra}


def _error_response(emulator: Emulator, error: Error) -> Response:
    request_id = mint_id("req_")
    headers = dict(error.headers)
    if error.retry_after is not None:
        headers.setdefault("retry-after", f"{error.retry_after:g}")
    return json_response(
        error_body(error, request_id),
        status=error.status,
        headers=_headers(emulator, request_id, headers),
        delay=error.delay,
    )


def _check(emulator: Emulator, recorded: RecordedRequest) -> Error | None:
    headers = recorded.headers
    key = headers.get("x-api-key") or bearer(headers)
    if not key:
        return Error(401, "x-api-key header is required")
    if key not in emulator.api_keys and key not in emulator.bearer_tokens:
        return Error(401, "invalid x-api-key")
    if not headers.get("anthropic-version"):
        return Error(400, "anthropic-version: header is required")
    return None


async def _prelude(request: Request, route: str) -> tuple[Emulator, RecordedRequest, Response | None]:
    emulator: Emulator = request.app.state.emulator
    recorded = await record(request, emulator, route)
    failure = _check(emulator, recorded)
    if failure is None and route != "models":
        invalid = validate_anthropic(recorded.body, count_tokens=route == "count_tokens")
        failure = Error(400, invalid.message) if invalid else None
    if failure is None:
        behaviour = emulator.next_behaviour(route)
        if isinstance(behaviour, Raw):
            return emulator, recorded, raw_response(behaviour)
        if isinstance(behaviour, Error):
            failure = behaviour
        elif isinstance(behaviour, Reply):
            request.state.reply = behaviour
    if failure is not None:
        return emulator, recorded, _error_response(emulator, failure)
    return emulator, recorded, None


def _input_tokens(body: dict[str, Any]) -> int:
    return count_value_tokens(body.get("system"), body["messages"])


def _echo(body: dict[str, Any]) -> str:
    for message in reversed(body["messages"]):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return f"echo: {content}".rstrip()
        texts: list[str] = []
        for block in content or []:
            if block.get("type") == "text":
                texts.append(block.get("text", ""))
            elif block.get("type") == "tool_result":
                inner = block.get("content")
                texts += (
                    [inner]
                    if isinstance(inner, str)
                    else [b.get("text", "") for b in inner or [] if b.get("type") == "text"]
                )
        return f"echo: {' '.join(t for t in texts if t)}".rstrip()
    return "echo:"


def usage_object(usage: Usage) -> dict[str, Any]:
    uncached = max(0, (usage.input or 0) - usage.cache_read - usage.cache_write)
    return {
        "input_tokens": uncached,
        "cache_creation_input_tokens": usage.cache_write,
        "cache_read_input_tokens": usage.cache_read,
        "output_tokens": usage.output,
        "service_tier": "standard",
    }


async def messages(request: Request) -> Response:
    emulator, recorded, early = await _prelude(request, "generate")
    if early is not None:
        return early
    body = recorded.body
    reply: Reply = getattr(request.state, "reply", None) or Reply(text=_echo(body))
    thinking_on = (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
    if not thinking_on:
        reply = replace(reply, thinking="", redacted_thinking=None)
    output = shape_output(reply, max_tokens=body["max_tokens"], stop=body.get("stop_sequences") or [])
    usage = resolve_usage(reply, output, _input_tokens(body))
    emulator.count_usage((usage.input or 0) + (usage.output or 0))
    usage_json = reply.raw_usage if reply.raw_usage is not None else usage_object(usage)
    request_id = mint_id("req_")
    headers = _headers(emulator, request_id, reply.headers)
    message = {
        "id": mint_id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": reply.model or body["model"],
    }
    stop_reason = reply.stop or STOP[output.reason]
    blocks = _blocks(reply, output)
    if not body.get("stream"):
        payload = {
            **message,
            "content": blocks,
            "stop_reason": stop_reason,
            "stop_sequence": output.stop_sequence,
            "usage": usage_json,
        }
        frames, abort = split_for_drop(dumps(payload).encode(), reply.drop_after)
        return ScriptedResponse(
            frames, headers=headers, delay=reply.delay, abort_after=abort, content_length=True
        )
    start_usage = {**usage_json, "output_tokens": 1} if reply.raw_usage is None else usage_json
    content = [
        _event(
            {
                "type": "message_start",
                "message": {
                    **message,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": start_usage,
                },
            }
        ),
        _event({"type": "ping"}),
    ]
    for index, block in enumerate(blocks):
        content += _block_events(index, block, reply)
    delta = {"stop_reason": stop_reason, "stop_sequence": output.stop_sequence}
    tail = [
        _event({"type": "message_delta", "delta": delta, "usage": usage_json}),
        _event({"type": "message_stop"}),
    ]
    frames = finish_frames(content, tail, reply, lambda e: _event(error_body(e)))
    return ScriptedResponse(
        frames,
        headers={**headers, **SSE_HEADERS},
        media_type="text/event-stream",
        delay=reply.delay,
        chunk_delay=reply.chunk_delay,
        abort_after=reply.drop_after,
    )


def _blocks(reply: Reply, output: Output) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if output.thinking:
        signature = reply.signature or mint_id("EqMBCkYIBxgCKkD", 48)
        blocks.append({"type": "thinking", "thinking": output.thinking, "signature": signature})
    if reply.redacted_thinking:
        blocks.append({"type": "redacted_thinking", "data": reply.redacted_thinking})
    if output.text:
        blocks.append({"type": "text", "text": output.text})
    for call in output.tool_calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": call.id or mint_id("toolu_"),
                "name": call.name,
                "input": call.arguments,
            }
        )
    return blocks


def _block_events(index: int, block: dict[str, Any], reply: Reply) -> list[bytes]:
    kind = block["type"]
    start: dict[str, Any] = block
    deltas: list[dict[str, Any]] = []
    if kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [
            {"type": "thinking_delta", "thinking": t}
            for t in word_chunks(block["thinking"], reply.chunk_words)
        ]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif kind == "text":
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": t} for t in word_chunks(block["text"], reply.chunk_words)]
    elif kind == "tool_use":
        start = {**block, "input": {}}
        arguments = dumps(block["input"])
        deltas = [{"type": "input_json_delta", "partial_json": ""}]
        deltas += [
            {"type": "input_json_delta", "partial_json": p} for p in char_chunks(arguments, reply.arg_chunk)
        ]
    events = [_event({"type": "content_block_start", "index": index, "content_block": start})]
    events += [_event({"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
    events.append(_event({"type": "content_block_stop", "index": index}))
    return events


def _event(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {dumps(data)}\n\n".encode()


async def count_tokens(request: Request) -> Response:
    emulator, recorded, early = await _prelude(request, "count_tokens")
    if early is not None:
        return early
    reply: Reply | None = getattr(request.state, "reply", None)
    tokens = _input_tokens(recorded.body)
    if reply is not None and reply.usage is not None and reply.usage.input is not None:
        tokens = reply.usage.input
    headers = _headers(emulator, mint_id("req_"), {})
    return json_response({"input_tokens": tokens}, headers=headers)


def _model(name: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": name,
        "display_name": name.replace("-", " ").title(),
        "created_at": "2025-09-29T00:00:00Z",
    }


async def list_models(request: Request) -> Response:
    emulator, _recorded, early = await _prelude(request, "models")
    if early is not None:
        return early
    headers = _headers(emulator, mint_id("req_"), {})
    name = request.path_params.get("model")
    if name is not None:
        if name not in emulator.models:
            return _error_response(emulator, Error(404, f"model: {name}"))
        return json_response(_model(name), headers=headers)
    data = [_model(m) for m in emulator.models]
    body = {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
    return json_response(body, headers=headers)


def create_app(emulator: Emulator | None = None) -> Starlette:
    """The Anthropic emulator app; its state lives in ``app.state.emulator``."""
    app = Starlette(
        routes=[
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/v1/models/{model:path}", list_models, methods=["GET"]),
        ]
    )
    app.state.emulator = emulator or new_emulator()
    return app


def new_emulator() -> Emulator:
    return Emulator("anthropic", api_keys=[API_KEY], models=MODELS)


__all__ = ["API_KEY", "MODELS", "create_app", "error_body", "new_emulator"]
