"""OAuth flows end to end against the local identity provider: phases, history, counters."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gephyr_core.admin import AdminContext, catalog, invoke, open_context
from gephyr_core.admin.oauth import local_oauth
from gephyr_core.errors import GephyrError
from gephyr_core.store import accounts as table
from tests.oauth_idp import IdP, oauth_idp, oauth_idp_session  # noqa: F401

LINKED = [
    "prepared",
    "callback_received",
    "exchanging_token",
    "fetching_user_info",
    "saving_account",
    "linked",
]


@pytest.fixture
def ctx(data_dir: Path, oauth_idp: IdP) -> Iterator[AdminContext]:  # noqa: F811
    context = open_context(data_dir, {})
    invoke(context, catalog()["config.save"], {"config": oauth_idp.config_patch()})
    yield context
    state = context.__dict__.get("_oauth_runtime")
    if state is not None:
        state.close()
    context.close()


def call(ctx: AdminContext, name: str, **kwargs: Any) -> Any:
    return invoke(ctx, catalog()[name], kwargs).data


def browse(url: str) -> httpx.Response:
    """Play the browser: follow the authorize redirect to the callback."""
    with httpx.Client(follow_redirects=True, timeout=10, trust_env=False) as client:
        return client.get(url)


def phases(ctx: AdminContext) -> list[str]:
    return [e["phase"] for e in local_oauth(ctx).flows.status()["recent_events"]]


def run_browser(url: str) -> tuple[threading.Thread, list[httpx.Response]]:
    pages: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: pages.append(browse(url)))
    thread.start()
    return thread, pages


def test_loopback_flow_links_a_gemini_account(ctx: AdminContext, oauth_idp: IdP) -> None:  # noqa: F811
    local_oauth(ctx)
    prepared = call(ctx, "oauth.prepare")
    assert prepared["redirect_uri"].endswith("/auth/callback")
    assert "code_challenge_method=S256" in prepared["url"] and f"state={prepared['state']}" in prepared["url"]
    again = call(ctx, "oauth.prepare")
    assert again["state"] == prepared["state"]  # unconsumed flow reused
    thread, pages = run_browser(prepared["url"])
    account = call(ctx, "oauth.complete")
    thread.join(10)
    assert pages[0].status_code == 200 and "Authorization received" in pages[0].text
    assert pages[0].headers["cache-control"] == "no-store"
    assert account["email"] == "ana@example.com" and account["name"] == "Ana Lima"
    assert account["provider"] == "gemini" and account["credential_kind"] == "oauth"
    assert account["oauth_provider"] == "emu" and account["token_expiry"] > 0
    status = local_oauth(ctx).flows.status()
    assert status["phase"] == "linked" and status["flow"] is None
    assert phases(ctx) == ["prepared", *LINKED]
    assert [e["detail"] for e in status["recent_events"]][:2] == ["oauth_flow_prepared", "oauth_flow_reused"]
    counters = status["counters"]
    assert counters["prepared_total"] == 2 and counters["linked_total"] == 1
    assert counters["callback_received_total"] == 1 and counters["failed_total"] == 0
    row = table.get_account(ctx.store, account["id"])
    assert row is not None and row["secret"].startswith("enc:") and row["access_token"].startswith("enc:")
    secret = ctx.box.decrypt("account.secret", row["secret"])
    assert secret in oauth_idp.refresh_tokens
    token_call = oauth_idp.calls("/token")[0]
    assert token_call["grant_type"] == "authorization_code" and token_call["code_verifier"]
    audit = ctx.store.db.execute("SELECT target FROM audit_events WHERE action = 'oauth.linked'").fetchall()
    assert [r[0] for r in audit] == [account["id"]]


def test_relinking_updates_the_same_account(ctx: AdminContext, oauth_idp: IdP) -> None:  # noqa: F811
    ids = []
    for _ in range(2):
        local_oauth(ctx)
        thread, _pages = run_browser(call(ctx, "oauth.prepare")["url"])
        ids.append(call(ctx, "oauth.complete")["id"])
        thread.join(10)
    assert ids[0] == ids[1] and len(call(ctx, "accounts.list")["accounts"]) == 1


def _failing_flow(ctx: AdminContext, url_of: Any = None) -> GephyrError:
    local_oauth(ctx)
    prepared = call(ctx, "oauth.prepare")
    url = url_of(prepared) if url_of else prepared["url"]
    thread, _pages = run_browser(url)
    with pytest.raises(GephyrError) as info:
        call(ctx, "oauth.complete")
    thread.join(10)
    assert call(ctx, "accounts.list")["accounts"] == []  # no partial account
    return info.value


def test_denied_consent_is_rejected(ctx: AdminContext, oauth_idp: IdP) -> None:  # noqa: F811
    oauth_idp.consent = "deny"
    err = _failing_flow(ctx)
    assert (err.code, err.status) == ("oauth.access_denied", 403)
    status = local_oauth(ctx).flows.status()
    assert phases(ctx) == ["prepared", "rejected"] and status["detail"] == "oauth_access_denied"
    assert status["counters"]["rejected_total"] == 1 and status["counters"]["failed_total"] == 0


def test_missing_refresh_token_fails(ctx: AdminContext, oauth_idp: IdP) -> None:  # noqa: F811
    oauth_idp.issue_refresh_token = False
    err = _failing_flow(ctx)
    assert err.code == "oauth.refresh_token_missing" and "revoke" in err.message
    assert phases(ctx) == ["prepared", "callback_received", "exchanging_token", "failed"]
    assert local_oauth(ctx).flows.status()["counters"]["failed_by_code"] == {"oauth.refresh_token_missing": 1}


def test_domain_not_allowed(ctx: AdminContext, oauth_idp: IdP) -> None:  # noqa: F811
    call(ctx, "config.save", config={"oauth": {"allowed_domains": ["corp.example"]}})
    err = _failing_flow(ctx)
    assert (err.code, err.status) == ("oauth.domain_not_allowed", 403)
    status = local_oauth(ctx).flows.status()
    assert status["detail"] == "oauth_domain_not_allowed: example.com"
    assert phases(ctx)[-2:] == ["fetching_user_info", "failed"]


def test_domain_allowed_by_email_domain(ctx: AdminContext, oauth_idp: IdP) -> None:  # noqa: F811
    oauth_idp.consent = "bob@other.org"
    patch = {"oauth": {"allowed_domains": [" Other.ORG "], "providers": {"emu": {"domain_claim": ""}}}}
    call(ctx, "config.save", config=patch)
    local_oauth(ctx)
    thread, _pages = run_browser(call(ctx, "oauth.prepare")["url"])
    account = call(ctx, "oauth.complete")
    thread.join(10)
    assert account["email"] == "bob@other.org" and account["name"] == "Bob Ray"


def test_state_mismatch(ctx: AdminContext) -> None:
    err = _failing_flow(ctx, lambda p: p["url"].replace(f"state={p['state']}", "state=forged"))
    assert (err.code, err.status) == ("oauth.state_mismatch", 400)
    assert phases(ctx) == ["prepared", "failed"]
    assert local_oauth(ctx).flows.status()["detail"] == "oauth_state_mismatch"


def test_unreachable_token_endpoint(ctx: AdminContext, oauth_idp: IdP) -> None:  # noqa: F811
    dead = oauth_idp.provider_config() | {"token_endpoint": "http://127.0.0.1:9/token"}
    call(ctx, "config.save", config={"oauth": {"providers": {"emu": dead}}})
    err = _failing_flow(ctx)
    assert (err.code, err.status) == ("oauth.exchange_failed", 502)
    assert local_oauth(ctx).flows.status()["detail"].startswith("oauth_exchange_failed: cannot reach")


def test_id_token_is_verified(ctx: AdminContext, oauth_idp: IdP) -> None:  # noqa: F811
    oauth_idp.issue_id_token = True
    local_oauth(ctx)
    thread, _pages = run_browser(call(ctx, "oauth.prepare")["url"])
    account = call(ctx, "oauth.complete")
    thread.join(10)
    assert account["email"] == "ana@example.com"
    assert oauth_idp.calls("/jwks") and not oauth_idp.calls("/userinfo")


def test_not_configured(data_dir: Path) -> None:
    context = open_context(data_dir, {})
    try:
        local_oauth(context)
        with pytest.raises(GephyrError) as info:
            call(context, "oauth.prepare")
        assert (info.value.code, info.value.status) == ("oauth.not_configured", 400)
    finally:
        context.close()


def test_flow_operations_need_a_server(data_dir: Path) -> None:
    context = open_context(data_dir, {})
    try:
        for name in ("oauth.prepare", "oauth.cancel", "oauth.status", "oauth.url"):
            with pytest.raises(GephyrError) as info:
                call(context, name)
            assert info.value.code == "not_running"
    finally:
        context.close()
