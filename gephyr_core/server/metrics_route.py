"""`GET /metrics` (observability.md §5): the Prometheus text exposition on the public listener.

The public guard has already applied the service status and the IP filter; the credential
rule is this endpoint's own: with `metrics.require_auth`, the relay API key or the admin
password (user tokens are refused).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gephyr_core.config import Settings
from gephyr_core.monitor.prometheus import CONTENT_TYPE
from gephyr_core.server.auth import presented_secret, secret_equals
from gephyr_core.wire import ErrorInfo
from gephyr_core.wire.errors import render_error
from gephyr_core.wire.jsonx import dumpb


def allowed(settings: Settings, secret: str | None) -> bool:
    """True when the presented secret is the relay API key or the admin password."""
    keys = (settings.get("auth.api_key"), settings.get("auth.admin_password"))
    return any(secret_equals(secret, str(key)) for key in keys if key)


def _refusal(request: Request, info: ErrorInfo, headers: dict[str, str] | None = None) -> Response:
    rid = request.scope.get("state", {}).get("request_id")
    status, body = render_error(info, "chat", rid)
    return Response(dumpb(body), status_code=status, headers=headers, media_type="application/json")


async def metrics(request: Request) -> Response:
    """The scrape: every series of this server, rendered from memory."""
    rt = request.app.state.runtime
    settings: Settings = rt.settings
    if not settings.get("metrics.enabled"):
        return _refusal(request, ErrorInfo("not_found", 404, "metrics are off (metrics.enabled = false)"))
    if settings.get("metrics.require_auth") and not allowed(settings, presented_secret(request)):
        info = ErrorInfo("authentication", 401, "/metrics needs the relay API key or the admin password")
        return _refusal(request, info, {"www-authenticate": "Bearer"})
    return Response(rt.metrics.render(), media_type=CONTENT_TYPE)
