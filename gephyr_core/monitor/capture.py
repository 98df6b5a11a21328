"""Where records are made: a pure-ASGI layer at the edge plus the relay's outcome hook.

The layer times the request (first byte, last byte), keeps the final status (499 when the
client left) and hands one record to the monitor when the response is done; the relay
fills in what only it knows (trace, upstream model, usage) through a context variable.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gephyr_core.monitor.bodies import Bodies
from gephyr_core.monitor.record import Record
from gephyr_core.monitor.writer import Monitor
from gephyr_core.relay.call import Outcome

_current: contextvars.ContextVar[Record | None] = contextvars.ContextVar(
    "gephyr_monitor_record", default=None
)
_SKIPPED = ("/health", "/metrics", "/auth/callback", "/")
_ERROR_BODY_CAP = 65536


def captured(method: str, path: str) -> bool:
    """Public requests that are logged (observability.md §2)."""
    if method == "OPTIONS" or path in _SKIPPED or "event_logging" in path:
        return False
    return not path.startswith(("/internal/", "/api/")) and path != "/api"


def on_outcome(outcome: Outcome, stream: bool) -> None:
    """The relay's hook: attach what the relay knows to the request's record (if any)."""
    rec = _current.get()
    if rec is None:
        return
    rec.trace = outcome.trace
    rec.stream = stream
    rec.mapped_model = outcome.headers.get("x-mapped-model")
    rec.usage_of = outcome.usage


def mark_interrupted(reason: str) -> None:
    """The relay's hook: a committed stream broke or ended without its terminator (status stays)."""
    rec = _current.get()
    if rec is not None:
        rec.interrupted = True
        rec.interrupt_reason = reason


class Capture:
    """Pure-ASGI: one record per captured request, submitted when the body is done."""

    def __init__(
        self,
        app: ASGIApp,
        monitor: Callable[[], Monitor | None],
        observe: Callable[[Record], None] | None = None,
        started: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.monitor = monitor
        # the Prometheus counters (monitor/prometheus.py), logging on or off, and their in-flight
        # gauge: `observe` ends what `started` began
        self.observe: Callable[[Record], None] = observe or (lambda rec: None)
        self.started: Callable[[], None] = started or (lambda: None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        monitor = self.monitor()
        if scope["type"] != "http" or monitor is None or not captured(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        rec = Record(
            time.time(),
            scope["method"],
            scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            state,
            logged=monitor.enabled,
        )
        receive, send = _copying(rec, monitor, receive, send)
        self.started()
        token = _current.set(rec)
        clock = time.perf_counter()
        done = False

        async def watch(message: Message) -> None:
            nonlocal done
            kind = message["type"]
            if kind == "http.response.start":
                rec.status = int(message["status"])
            elif kind == "http.response.body":
                body = message.get("body", b"")
                if rec.ttfb_ms is None and body:
                    rec.ttfb_ms = int((time.perf_counter() - clock) * 1000)
                if rec.status >= 400 and len(rec.error_body) < _ERROR_BODY_CAP:
                    rec.error_body += body
                if not message.get("more_body", False):
                    done = True
                    _finish(rec, clock)  # before the guard records the user token's usage
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            _current.reset(token)
            if not done:  # the client left (or the app failed) before the last byte
                rec.interrupted = rec.status != 0
                rec.status = 499 if rec.status < 400 else rec.status
                _finish(rec, clock)
            self.observe(rec)
            monitor.submit(rec)


def _copying(rec: Record, monitor: Monitor, receive: Receive, send: Send) -> tuple[Receive, Send]:
    """With body capture on, `receive` and `send` that copy the bodies into bounded buffers only
    (decoding and summaries happen in the writer thread); else the two unchanged."""
    cap = monitor.body_cap() if rec.logged else None
    if cap is None:
        return receive, send
    bodies = rec.bodies = Bodies(cap)

    async def take() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            bodies.request(message.get("body", b""))
        return message

    async def give(message: Message) -> None:
        if message["type"] == "http.response.body":
            bodies.response(message.get("body", b""))
        elif message["type"] == "http.response.start":
            bodies.start(message.get("headers", []))
        await send(message)

    return take, give


def _finish(rec: Record, clock: float) -> None:
    rec.duration_ms = int((time.perf_counter() - clock) * 1000)
    if rec.usage_of is not None and rec.usage is None:
        rec.usage = rec.usage_of()
        rec.state["usage"] = {"input_tokens": rec.usage.input_total, "output_tokens": rec.usage.output_total}
