"""Mounting every admin operation as an `/api` route, behind the admin gate and auth."""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gephyr_core.admin import AdminContext, catalog, invoke
from gephyr_core.admin.registry import Operation
from gephyr_core.errors import BadRequest, GephyrError, NotFound, Unauthorized
from gephyr_core.server.auth import is_loopback_peer, presented_secret, secret_equals
from gephyr_core.server.runtime import ServerRuntime

log = logging.getLogger("gephyr.server")


def error_response(exc: GephyrError) -> JSONResponse:
    """The admin API error body with the error's status."""
    return JSONResponse(exc.to_body(), status_code=exc.status, headers=exc.headers)


def authenticate(rt: ServerRuntime, request: Request) -> str:
    """The admin actor for this request, or 404 (API off) / 429 (locked out) / 401 (bad credential)."""
    token = request.headers.get("x-gephyr-local-token")
    if token is not None and is_loopback_peer(request) and secret_equals(token, rt.local_token):
        user = request.headers.get("x-gephyr-actor", "")[:64]
        return f"local_cli:{user}" if user else "local_cli"
    settings = rt.settings
    if not settings.get("admin.enabled"):
        raise NotFound("not found")
    ip = client_ip(rt, request)
    rt.security.lockout.check(ip)
    secret = presented_secret(request)
    password = settings.get("auth.admin_password")
    actor = None
    if password:
        if secret_equals(secret, password):
            actor = "admin_password"
    elif not settings.lan and secret_equals(secret, settings.get("auth.api_key")):
        actor = "api_key"
    if actor is not None:
        rt.security.lockout.success(ip)
        return actor
    if rt.security.lockout.failure(ip, rt.security.policy.lockout):
        lockout_engaged(rt, ip, request)
    raise Unauthorized("missing or wrong admin credential")


def client_ip(rt: ServerRuntime, request: Request) -> str | None:
    """The client IP after trusted proxies (security.md §7)."""
    return rt.security.client_ip(request.client.host if request.client else None, request.headers)


def lockout_engaged(rt: ServerRuntime, ip: str | None, request: Request) -> None:
    """Log and audit (`admin.lockout`) a lockout that just started."""
    seconds = rt.security.policy.lockout.lockout_seconds
    log.warning("admin lockout: %s locked for %d s after repeated failed logins", ip, seconds)
    rid = request.scope.get("state", {}).get("request_id")
    rt.security.writer.audit("system", "admin.lockout", ip, {"lockout_seconds": seconds}, ip, rid)


async def read_json(request: Request, limit: int) -> Any:
    """The JSON body (None when empty), bounded by `limit` bytes."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise GephyrError(f"body larger than {limit} bytes", code="payload_too_large")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise GephyrError(f"body larger than {limit} bytes", code="payload_too_large")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: absurd nesting
        raise BadRequest(f"malformed JSON body: {exc}") from exc


def _endpoint(op: Operation, rt: ServerRuntime) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            actor = authenticate(rt, request)
            body = None
            if op.method in {"POST", "PATCH", "PUT"}:
                body = await read_json(request, int(rt.settings.get("server.max_body_size")))
            query = {k: request.query_params.getlist(k) for k in request.query_params}
            kwargs = op.bind(request.path_params, query, body, request.headers)
            ctx = AdminContext(
                rt.ctx.dd,
                rt.ctx.env,
                runtime=rt,
                actor=actor,
                request_id=request.scope.get("state", {}).get("request_id"),
                client_ip=client_ip(rt, request),
            )
            # Share the server's open store, key and config objects.
            ctx.__dict__.update(
                {k: rt.ctx.__dict__[k] for k in ("store", "box", "config") if k in rt.ctx.__dict__}
            )
            reply = await run_in_threadpool(invoke, ctx, op, kwargs)
        except GephyrError as exc:
            return error_response(exc)
        if reply.status == 204:
            return Response(status_code=204, headers=dict(reply.headers))
        return JSONResponse(reply.data, status_code=reply.status, headers=dict(reply.headers))

    return endpoint


def admin_routes(rt: ServerRuntime) -> list[Route]:
    """Routes for every operation; static segments sort before `{param}` ones."""
    ops = sorted(catalog().values(), key=lambda o: (o.path.count("{"), -len(o.path)))
    routes = []
    for op in ops:
        for path in (op.path, *op.aliases):
            routes.append(Route(path, _endpoint(op, rt), methods=[op.method], name=op.name))
    return routes


async def api_not_found(request: Request) -> Response:
    """Any other `/api/*` path: 404 in the admin error shape (after the gate)."""
    rt: ServerRuntime = request.app.state.runtime
    try:
        authenticate(rt, request)
    except GephyrError as exc:
        return error_response(exc)
    return error_response(NotFound(f"no admin route {request.method} {request.url.path}"))
