"""OAuth linking operations (oauth.md §6): local-listener and web flows, status, cancel, submit-code."""

from __future__ import annotations

from typing import Any

from gephyr_core.admin.accounts import view
from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import operation
from gephyr_core.errors import BadRequest, GephyrError, NotFound, NotRunning
from gephyr_core.oauth.runtime import OAuthRuntime
from gephyr_core.store import accounts as table

_LOCAL = "_oauth_runtime"


def local_oauth(ctx: AdminContext) -> OAuthRuntime:
    """The OAuth state of this process for a context without a server (the CLI's own login)."""
    found = ctx.__dict__.get(_LOCAL)
    if not isinstance(found, OAuthRuntime):
        found = OAuthRuntime(ctx.store, ctx.box, ctx.settings)
        ctx.__dict__[_LOCAL] = found
    return found


def oauth_state(ctx: AdminContext, create: bool = False) -> OAuthRuntime:
    """The server's OAuth state; without a server, this process's (made only when `create`)."""
    if ctx.runtime is not None:
        found = getattr(ctx.runtime, "oauth", None)
        if isinstance(found, OAuthRuntime):
            return found
    existing = ctx.__dict__.get(_LOCAL)
    if isinstance(existing, OAuthRuntime):
        return existing
    if not create:
        raise NotRunning("no server running on this data dir (an OAuth flow lives in a running server)")
    return local_oauth(ctx)


def _linked(ctx: AdminContext, state: OAuthRuntime, browser: bool) -> dict[str, Any]:
    flow = state.flows.for_consumer()
    if browser and not _open_browser(flow.url):
        state.flows.cancel()
        raise GephyrError(
            "no web browser is available on this machine; use `gephyr oauth login --no-browser`",
            code="oauth.browser_unavailable",
            status=500,
        )
    account_id = state.flows.consume(flow)
    ctx.records_changed()
    row = table.get_account(ctx.store, account_id)
    if row is None:
        raise NotFound(f"account {account_id} vanished after linking")
    return view(ctx, row)


def _open_browser(url: str) -> bool:
    import webbrowser

    try:
        return webbrowser.open(url)
    except webbrowser.Error:
        return False


@operation("oauth.prepare", "POST", "/api/accounts/oauth/prepare", runtime=True, audit=False)
def prepare(ctx: AdminContext) -> dict[str, Any]:
    """Set up a local-listener flow and return its authorization URL."""
    flow = oauth_state(ctx).flows.prepare_local()
    return {"url": flow.url, "state": flow.state, "redirect_uri": flow.redirect_uri}


@operation("oauth.start", "POST", "/api/accounts/oauth/start", audit=False)
def start(ctx: AdminContext) -> dict[str, Any]:
    """Open a browser on the machine running Gephyr and link the account that signs in."""
    return _linked(ctx, oauth_state(ctx, create=True), browser=True)


@operation("oauth.complete", "POST", "/api/accounts/oauth/complete", audit=False)
def complete(ctx: AdminContext) -> dict[str, Any]:
    """Wait for the prepared flow's callback (no browser launched) and link the account."""
    return _linked(ctx, oauth_state(ctx, create=True), browser=False)


@operation("oauth.cancel", "POST", "/api/accounts/oauth/cancel", runtime=True, audit=False)
def cancel(ctx: AdminContext) -> dict[str, Any]:
    """Cancel the active flow."""
    return {"ok": True, "cancelled": oauth_state(ctx).flows.cancel()}


@operation("oauth.submit_code", "POST", "/api/accounts/oauth/submit-code", runtime=True, audit=False)
def submit_code(ctx: AdminContext, body: Any) -> dict[str, Any]:
    """Hand the active flow its code: the bare code or the whole redirect URL."""
    # Read from the whole body so the audit record redacts the code.
    if not isinstance(body, dict) or not isinstance(body.get("code"), str) or not body["code"].strip():
        raise BadRequest("code must be a non-empty string (the code or the redirect URL)")
    state = body.get("state")
    if state is not None and not isinstance(state, str):
        raise BadRequest("state must be a string")
    oauth_state(ctx).flows.submit(body["code"], state or None)
    return {"ok": True}


@operation("oauth.url", "GET", "/api/auth/url", runtime=True)
def auth_url(ctx: AdminContext) -> dict[str, Any]:
    """Start a web flow (callback on this server) and return its authorization URL."""
    rt = ctx.require_runtime()
    public = str(rt.settings.get("server.public_url") or "").rstrip("/")
    base = public or f"http://localhost:{getattr(rt, 'port', rt.settings.get('server.port'))}"
    flow = oauth_state(ctx).flows.prepare_web(f"{base}/auth/callback")
    return {"url": flow.url, "state": flow.state}


@operation("oauth.status", "GET", "/api/auth/status", runtime=True)
def status(ctx: AdminContext) -> dict[str, Any]:
    """The flow's phase, recent events and counters."""
    return oauth_state(ctx).flows.status()
