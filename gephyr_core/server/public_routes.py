"""Public relay routes (protocols.md §1.1): auth, body parsing and rendering at the edge."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from gephyr_core.relay import catalogue, claude_code
from gephyr_core.relay.call import ClientCall, Outcome
from gephyr_core.relay.pipeline import Relay, error_outcome
from gephyr_core.relay.routes import RouteError
from gephyr_core.server.runtime import ServerRuntime
from gephyr_core.wire import ErrorInfo
from gephyr_core.wire.errors import render_error
from gephyr_core.wire.jsonx import dumpb

GEMINI_ACTIONS = {"generateContent": "generate", "streamGenerateContent": "generate", "countTokens": "count"}


class Refused(Exception):
    """A request refused at the edge, rendered in the caller's shape."""

    def __init__(self, info: ErrorInfo, headers: dict[str, str] | None = None) -> None:
        super().__init__(info.message)
        self.info = info
        self.headers = headers or {}


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumpb(data), status_code=status, headers=headers, media_type="application/json")


def _refusal(fmt: str, exc: Refused, request_id: str) -> Response:
    status, body = render_error(exc.info, fmt, request_id)  # type: ignore[arg-type]
    return _json(body, status, exc.headers)


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def _check_auth(rt: ServerRuntime, request: Request) -> None:
    # The public guard (security/guard.py) authenticates before routing and leaves the
    # principal in the request state; without one the request did not pass it: refuse.
    if request.scope.get("state", {}).get("principal") is None:
        raise Refused(ErrorInfo("authentication", 401, "missing or invalid API key"),
                      {"www-authenticate": "Bearer"})


async def _body(rt: ServerRuntime, request: Request) -> tuple[dict[str, Any], bytes]:
    limit = int(rt.settings.get("server.max_body_size"))
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise Refused(ErrorInfo("too_large", 413, f"request body is larger than {limit} bytes"))
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise Refused(ErrorInfo("too_large", 413, f"request body is larger than {limit} bytes"))
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: absurd nesting
        raise Refused(ErrorInfo("invalid_request", 400, f"request body is not valid JSON: {exc}")) from exc
    if not isinstance(body, dict):
        raise Refused(ErrorInfo("invalid_request", 400, "request body must be a JSON object"))
    return body, bytes(raw)


def _respond(outcome: Outcome) -> Response:
    if outcome.chunks is not None:
        return StreamingResponse(outcome.chunks, status_code=outcome.status, headers=outcome.headers,
                                 media_type=outcome.media_type)
    return Response(outcome.body or b"", status_code=outcome.status, headers=outcome.headers,
                    media_type=outcome.media_type)


def _relay(request: Request) -> tuple[ServerRuntime, Relay]:
    rt: ServerRuntime = request.app.state.runtime
    return rt, request.app.state.relay


async def _generate(request: Request, fmt: str, action: str = "generate", model: str | None = None,
                    stream: bool | None = None) -> Response:
    rt, relay = _relay(request)
    rid = _request_id(request)
    try:
        _check_auth(rt, request)
        body, raw = await _body(rt, request)
    except Refused as exc:
        return _refusal(fmt, exc, rid)
    extra: dict[str, str] = {}
    if fmt == "anthropic" and action == "generate":
        early = _claude_code(rt, body, extra)
        if isinstance(early, Response):
            return early
        if early is not None:
            body, raw = early, dumpb(early)
    call = ClientCall(
        fmt=fmt, action=action, body=body, raw=raw,  # type: ignore[arg-type]
        model=model if model is not None else body.get("model"),  # type: ignore[arg-type]
        stream=stream if stream is not None else body.get("stream") is True,
        headers=request.headers, request_id=rid,
        gemini_sse=request.query_params.get("alt") == "sse",
        completions_default_max_tokens=int(rt.settings.get("protocols.completions_default_max_tokens")),
    )
    request.scope["state"]["model"] = call.model  # for user-token usage rows
    if not isinstance(call.model, str):
        return _respond(error_outcome(call, ErrorInfo("invalid_request", 400, "model is required")))
    outcome = await (relay.count(call) if action == "count" else relay.handle(call))
    outcome.headers.update(extra)
    return _respond(outcome)


def _claude_code(
    rt: ServerRuntime, body: dict[str, Any], extra: dict[str, str]
) -> Response | dict[str, Any] | None:
    """Warmup interception and background-task routing (routing.md §11), each behind its flag."""
    settings = rt.settings
    if settings.get("routing.intercept_warmup") and claude_code.is_warmup(body):
        data, media = claude_code.warmup_reply(str(body.get("model") or ""), body.get("stream") is True)
        return Response(data, media_type=media, headers={"x-warmup-intercepted": "true"})
    if settings.get("routing.route_background_tasks"):
        keywords = settings.get("routing.background_task_keywords") or []
        rewritten = claude_code.background_rewrite(body, keywords, settings.get("routing.mapping") or {})
        if rewritten is not None:
            extra["x-background-task"] = "true"
            return rewritten
    return None


async def chat(request: Request) -> Response:
    return await _generate(request, "chat")


async def completions(request: Request) -> Response:
    return await _generate(request, "completions")


async def responses(request: Request) -> Response:
    return await _generate(request, "responses")


async def messages(request: Request) -> Response:
    return await _generate(request, "anthropic")


async def count_tokens(request: Request) -> Response:
    return await _generate(request, "anthropic", action="count")


def _list_shape(request: Request) -> str:
    if "anthropic-version" in request.headers:
        return "anthropic"
    if "authorization" not in request.headers and "x-api-key" not in request.headers and (
        "x-goog-api-key" in request.headers or "key" in request.query_params
    ):
        return "gemini"
    return "chat"


async def models_index(request: Request, shape: str | None = None) -> Response:
    """GET /v1/models, /v1beta/models, /v1/models/claude."""
    rt, relay = _relay(request)
    fmt = shape or _list_shape(request)
    try:
        _check_auth(rt, request)
    except Refused as exc:
        return _refusal(fmt, exc, _request_id(request))
    models = catalogue.model_set(rt.settings.get("routing.mapping") or {}, rt.accounts)
    if fmt == "anthropic":
        return _json(catalogue.anthropic_list(models))
    if fmt == "gemini":
        return _json(catalogue.gemini_list(models))
    return _json(catalogue.openai_list(models))


async def v1beta_models(request: Request) -> Response:
    return await models_index(request, "gemini")


async def model_path(request: Request) -> Response:
    """Everything under /v1/models/… and /v1beta/models/…: `{model}:{action}` first."""
    rest = request.path_params["rest"]
    gemini_root = request.url.path.startswith("/v1beta/")
    if ":" in rest:
        name, _, action = unquote(rest).rpartition(":")
        if request.method != "POST" or action not in GEMINI_ACTIONS:
            return _refusal("gemini", Refused(ErrorInfo("not_found", 404, f"unknown method {action!r}")),
                            _request_id(request))
        return await _generate(request, "gemini", GEMINI_ACTIONS[action], name.removeprefix("models/"),
                               action == "streamGenerateContent")
    if not gemini_root and rest == "claude" and request.method == "GET":
        return await models_index(request, "anthropic")
    if not gemini_root and rest == "detect" and request.method == "POST":
        return await detect(request)
    if request.method != "GET":
        return _refusal("gemini" if gemini_root else "chat",
                        Refused(ErrorInfo("not_found", 404, "not found")), _request_id(request))
    return await model_entry(request, unquote(rest), "gemini" if gemini_root else _list_shape(request))


async def model_entry(request: Request, model: str, fmt: str) -> Response:
    rt, relay = _relay(request)
    rid = _request_id(request)
    try:
        _check_auth(rt, request)
        route = relay.route(model)
    except Refused as exc:
        return _refusal(fmt, exc, rid)
    except RouteError as exc:
        return _refusal(fmt, Refused(ErrorInfo("invalid_request", 400, exc.message)), rid)
    if not route.candidates:
        return _refusal(fmt, Refused(ErrorInfo("not_found", 404, f"model {model!r} not found")), rid)
    owner = catalogue.OWNER.get(route.candidates[0]["provider"], "gephyr")
    if fmt == "gemini":
        return _json(catalogue.gemini_entry(route.client_model))
    return _json(catalogue.openai_model(route.client_model, owner))


async def detect(request: Request) -> Response:
    rt, relay = _relay(request)
    rid = _request_id(request)
    try:
        _check_auth(rt, request)
        body, _ = await _body(rt, request)
        route = relay.route(body.get("model"))  # type: ignore[arg-type]
    except Refused as exc:
        return _refusal("chat", exc, rid)
    except RouteError as exc:
        return _refusal("chat", Refused(ErrorInfo("invalid_request", 400, exc.message)), rid)
    return _json(catalogue.detect(route, body.get("tools")))


def public_routes(disable_prompt_routes: bool) -> list[Route]:
    """The relay's public routes (generation routes omitted when prompt routes are disabled)."""
    routes = [
        Route("/v1/models", models_index, methods=["GET"]),
        Route("/v1beta/models", v1beta_models, methods=["GET"]),
        Route("/v1/models/{rest:path}", model_path, methods=["GET", "POST"]),
        Route("/v1beta/models/{rest:path}", model_path, methods=["GET", "POST"]),
    ]
    if not disable_prompt_routes:
        routes = [
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/completions", completions, methods=["POST"]),
            Route("/v1/responses", responses, methods=["POST"]),
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
            *routes,
        ]
    return routes
