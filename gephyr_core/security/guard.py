"""The public-route layers as one pure-ASGI middleware (security.md §1):
service status → body limit → IP filter → auth, then one access-log row per request.

Refusals are rendered in the caller's protocol, picked from the path (and, for the model
lists, the headers) the same way the routes pick it. The authenticated principal is left
in `scope["state"]["principal"]` for the handlers (`public_routes._check_auth`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any, Protocol

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gephyr_core.security.ipfilter import Block, block_message, decide
from gephyr_core.security.state import SecurityState
from gephyr_core.security.tokens import Verdict
from gephyr_core.server.auth import presented_secret, secret_equals
from gephyr_core.store.tokens import Usage
from gephyr_core.wire import ErrorInfo
from gephyr_core.wire.errors import render_error
from gephyr_core.wire.jsonx import dumpb

#: paths that answer while the relay is stopped (besides /api/*)
_ALWAYS_UP = ("/internal/", "/auth/callback", "/health", "/metrics")
#: paths that need no credential in any mode
_OPEN = ("/health", "/internal/", "/auth/callback")


class Runtime(Protocol):
    running: bool
    security: SecurityState


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p.rstrip("/") or path.startswith(p) for p in prefixes)


def caller_format(path: str, headers: Mapping[str, str], query: Mapping[str, str]) -> str:
    """The protocol whose error shape a refusal of this request uses."""
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith("/v1beta/"):
        return "gemini"
    rest = path.removeprefix("/v1/models/") if path.startswith("/v1/models/") else None
    if rest is not None and ":" in rest:
        return "gemini"
    if rest == "claude":
        return "anthropic"
    if path == "/v1/models" or rest is not None:
        if "anthropic-version" in headers:
            return "anthropic"
        if (
            "authorization" not in headers
            and "x-api-key" not in headers
            and ("x-goog-api-key" in headers or "key" in query)
        ):
            return "gemini"
    return "chat"


def _secret_digest(secret: str | None) -> str | None:
    return hashlib.sha256(secret.encode()).hexdigest()[:16] if secret else None


class PublicGuard:
    """Service status, body limit, IP filter and auth for every non-`/api` path."""

    def __init__(self, app: ASGIApp, rt: Runtime) -> None:
        self.app = app
        self.rt = rt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path == "/api" or path.startswith("/api/"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request = Request(scope)
        sec = self.rt.security
        ip = sec.client_ip(request.client.host if request.client else None, request.headers)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["client_ip"] = ip
        secret = presented_secret(request)
        log: dict[str, Any] = {"blocked": 0, "block_reason": None, "username": None}
        refusal = self._screen(request, path, ip, secret, log)
        status = [0]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            if refusal is not None:
                await self._refuse(request, refusal, send_status)
            else:
                await self.app(scope, receive, send_status)
        finally:
            if not _under(path, ("/internal/", "/auth/callback")):
                self._record(request, ip, secret, status[0] or 500, started, log)

    def _screen(
        self, request: Request, path: str, ip: str | None, secret: str | None, log: dict[str, Any]
    ) -> tuple[ErrorInfo, dict[str, str]] | None:
        """The first layer that refuses, as (error, headers); None to pass."""
        sec = self.rt.security
        policy = sec.policy
        if not self.rt.running and not _under(path, _ALWAYS_UP):
            return ErrorInfo(
                "unavailable", 503, "the relay is stopped (gephyr server start)", code="service_disabled"
            ), {}
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > policy.max_body:
            return ErrorInfo("too_large", 413, f"request body is larger than {policy.max_body} bytes"), {}
        if not _under(path, ("/internal/", "/auth/callback")):
            block = decide(ip, sec.lists, policy.monitor)
            if block is not None:
                log.update(blocked=1, block_reason=block.reason)
                sec.blocked["blacklist" if block.pattern is not None else "whitelist"] += 1
                self._hit(block)
                return _blocked(block, policy.block_message), {}
        verdict = self._authenticate(request, path, ip, secret)
        if verdict is not None:
            return verdict, {"www-authenticate": "Bearer"}
        principal = request.scope["state"].get("principal")
        if isinstance(principal, Mapping):
            log["username"] = principal.get("username")
        return None

    def _hit(self, block: Block) -> None:
        if block.pattern is not None:
            self.rt.security.writer.hit(block.pattern, int(time.time()))

    def _authenticate(
        self, request: Request, path: str, ip: str | None, secret: str | None
    ) -> ErrorInfo | None:
        state = request.scope["state"]
        sec = self.rt.security
        policy = sec.policy
        # /metrics applies its own rule (metrics.require_auth, observability.md §5) in its handler.
        if _under(path, _OPEN) or path == "/metrics" or (path == "/" and request.method == "HEAD"):
            state["principal"] = "anonymous"
            return None
        if secret and secret_equals(secret, policy.api_key):
            state["principal"] = "api_key"
            return None
        verdict = sec.tokens.validate(secret, ip) if secret and sec.tokens.loaded else None
        if verdict is not None and verdict.token is not None:
            state["principal"] = verdict.token
            return None
        if policy.mode == "off":
            state["principal"] = "anonymous"
            return None
        return _auth_error(verdict, secret, sec.tokens.loaded)

    async def _refuse(self, request: Request, refusal: tuple[ErrorInfo, dict[str, str]], send: Send) -> None:
        info, headers = refusal
        fmt = caller_format(request.scope.get("path", ""), request.headers, request.query_params)
        rid = request.scope["state"].get("request_id")
        status, body = render_error(info, fmt, rid)  # type: ignore[arg-type]
        if info.code == "ip_blocked" and fmt not in ("anthropic", "gemini"):
            body = {
                "error": {
                    "message": info.message,
                    "type": "ip_blocked",
                    "code": "ip_blocked",
                    "ip": request.scope["state"].get("client_ip"),
                }
            }
        raw = dumpb(body)
        head = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())]
        head += [(k.encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": raw if request.method != "HEAD" else b""})

    def _record(
        self,
        request: Request,
        ip: str | None,
        secret: str | None,
        status: int,
        started: float,
        log: dict[str, Any],
    ) -> None:
        state = request.scope["state"]
        now = int(time.time())
        writer = self.rt.security.writer
        writer.access(
            {
                "client_ip": ip,
                "timestamp": now,
                "method": request.method,
                "path": request.scope.get("path", ""),
                "user_agent": request.headers.get("user-agent"),
                "status": status,
                "duration": int((time.perf_counter() - started) * 1000),
                "api_key_hash": _secret_digest(secret),
                **log,
            }
        )
        token = state.get("principal")
        if isinstance(token, Mapping):
            usage = state.get("usage") or {}
            writer.usage(
                Usage(
                    token_id=str(token["id"]),
                    ip=ip,
                    model=state.get("model"),
                    input_tokens=int(usage.get("input_tokens") or 0),
                    output_tokens=int(usage.get("output_tokens") or 0),
                    time=now,
                    status=status,
                    user_agent=request.headers.get("user-agent"),
                )
            )


def _blocked(block: Block, custom: str) -> ErrorInfo:
    return ErrorInfo("permission", 403, block_message(block, custom), code="ip_blocked")


def _auth_error(verdict: Verdict | None, secret: str | None, loaded: bool) -> ErrorInfo:
    if verdict is not None:
        kind = "authentication" if verdict.status == 401 else "permission"
        return ErrorInfo(kind, verdict.status, verdict.message)
    if secret and not loaded:
        return ErrorInfo("upstream_error", 500, "the user token store cannot be read")
    return ErrorInfo("authentication", 401, "missing or invalid API key")
