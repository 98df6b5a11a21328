"""`create_app`: the Starlette application of one running server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from gephyr_core import __version__
from gephyr_core.errors import GephyrError
from gephyr_core.monitor.capture import Capture, on_outcome
from gephyr_core.pool.egress import EgressHttp
from gephyr_core.pool.health import run_loop as run_health_loop
from gephyr_core.relay.account_flags import AccountFlags
from gephyr_core.relay.pipeline import Relay
from gephyr_core.security.cors import Cors
from gephyr_core.security.guard import PublicGuard
from gephyr_core.server.admin_routes import admin_routes, api_not_found, error_response
from gephyr_core.server.metrics_route import metrics
from gephyr_core.server.middleware import RequestIds
from gephyr_core.server.public_routes import public_routes
from gephyr_core.server.runtime import ServerRuntime


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": __version__})


async def head_root(request: Request) -> Response:
    return Response(status_code=200)


async def internal_status(request: Request) -> Response:
    rt: ServerRuntime = request.app.state.runtime
    return JSONResponse(
        {"status": "ok", "service_running": rt.running, "port": rt.port, "version": __version__}
    )


async def auth_callback(request: Request) -> Response:
    """The web flow's OAuth redirect target (oauth.md §5): no credential, always an HTML page."""
    rt: ServerRuntime = request.app.state.runtime
    params = {k: v for k, v in request.query_params.items()}
    page = await run_in_threadpool(rt.oauth.flows.callback_page, params)
    return HTMLResponse(page, headers={"cache-control": "no-store"})


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "bad_request"}.get(exc.status_code, "bad_request")
    err = GephyrError(str(exc.detail), code=code, status=exc.status_code)
    return error_response(err)


def create_app(rt: ServerRuntime, watch_interval: float = 1.0) -> Any:
    """Build the application around a prepared runtime; the lifespan runs the watchers."""

    relay = Relay(lambda: rt.settings, lambda: rt.accounts, rt.ctx.box.decrypt,
                  state=rt.scheduling.state, bindings=rt.scheduling.bindings, guard=rt.scheduling.guard)
    relay.on_trace = rt.scheduling.record_trace
    flags = AccountFlags(rt.ctx.store, lambda: rt.accounts, lambda new: setattr(rt, "accounts", new))
    relay.account_flags = flags
    relay.on_outcome = on_outcome
    relay.oauth = rt.oauth.relay
    relay.egress = rt.pool
    relay.attempter.on_answer = rt.quota_tap.observe  # passive quota snapshots (accounts.md §9.1)
    app_clients = relay.pool

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        watcher = asyncio.create_task(rt.watch(watch_interval), name="gephyr-watch")
        writer = asyncio.create_task(rt.security.run(), name="gephyr-security-writer")
        monitor = asyncio.create_task(rt.monitor.run(), name="gephyr-monitor-writer")
        pool_health = asyncio.create_task(run_health_loop(rt.pool, app_clients), name="gephyr-pool-health")
        checker = asyncio.create_task(rt.startup_health(), name="gephyr-startup-health")
        ticker = asyncio.create_task(rt.refresh_scheduler.run(), name="gephyr-scheduler")
        try:
            yield
        finally:
            await rt.end_startup_health(checker)
            await rt.refresh_scheduler.close(ticker)
            for task in (watcher, writer, pool_health, monitor):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await rt.security.final_flush()
            await rt.monitor.final_flush()
            await rt.scheduling.flush()
            await flags.drain()
            await rt.quota_tap.drain()
            await relay.aclose()
            await asyncio.to_thread(rt.oauth.close)

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/", head_root, methods=["HEAD"]),
        Route("/internal/health", health, methods=["GET"]),
        Route("/internal/status", internal_status, methods=["GET"]),
        Route("/auth/callback", auth_callback, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *public_routes(bool(rt.settings.get("server.disable_prompt_routes"))),
        *admin_routes(rt),
        Route("/api/{rest:path}", api_not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]
    # Layers outermost first (security.md §1): request ids → CORS → the public guard
    # (service status, body limit, IP filter, auth); the admin gate, lockout and auth run
    # in the /api routes.
    policy = rt.security
    middleware = [
        # outermost: refusals are logged (and counted) too
        Middleware(
            Capture, monitor=lambda: rt.monitor, observe=rt.metrics.observe, started=rt.metrics.started
        ),
        Middleware(Cors, policy=lambda: (policy.policy.cors_mode, policy.policy.cors_origins)),
        Middleware(PublicGuard, rt=rt),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=middleware,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.runtime = rt
    app.state.relay = relay
    rt.pool_clients = relay.pool  # on-demand health checks use the relay's clients
    # token refreshes (relay, admin, health check) leave by the account's route on the relay's clients
    rt.oauth.refresher.egress = EgressHttp(rt.pool, relay.pool)
    return RequestIds(app)
