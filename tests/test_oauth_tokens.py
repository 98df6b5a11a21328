"""Token lifecycle: add/import by refresh token, refresh with rotation, invalid_grant, revoke, relay use."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gephyr_core.admin import AdminContext, catalog, invoke, open_context
from gephyr_core.errors import GephyrError
from gephyr_core.oauth.client import TokenError
from gephyr_core.oauth.tokens import TokenRefresher
from gephyr_core.store import accounts as table
from tests.emulators import gemini_api
from tests.emulators.script import Emulator
from tests.oauth_idp import IdP, oauth_idp, oauth_idp_session  # noqa: F401
from tests.relay.harness import RelayServer


@pytest.fixture
def ctx(data_dir: Path, oauth_idp: IdP) -> Iterator[AdminContext]:  # noqa: F811
    context = open_context(data_dir, {})
    invoke(context, catalog()["config.save"], {"config": oauth_idp.config_patch()})
    yield context
    context.close()


def call(ctx: AdminContext, name: str, **kwargs: Any) -> Any:
    return invoke(ctx, catalog()[name], kwargs).data


def expire(ctx: AdminContext, account_id: str) -> None:
    with ctx.store.transaction(change=True) as db:
        table.update_account(db, account_id, {"token_expires_at": int(time.time()) + 10})
    ctx.records_changed()


def test_add_by_refresh_token(ctx: AdminContext, oauth_idp: IdP) -> None:  # noqa: F811
    token = oauth_idp.grant()
    reply = invoke(ctx, catalog()["accounts.add"], {"refresh_token": token, "label": "ana"})
    assert reply.status == 201
    acc = reply.data
    assert (acc["email"], acc["label"], acc["credential_kind"]) == ("ana@example.com", "ana", "oauth")
    assert oauth_idp.calls("/token")[0]["grant_type"] == "refresh_token"
    row = table.get_account(ctx.store, acc["id"])
    assert row is not None and ctx.box.decrypt("account.secret", row["secret"]) in oauth_idp.refresh_tokens
    again = invoke(ctx, catalog()["accounts.add"], {"refresh_token": oauth_idp.grant()})
    assert again.status == 200 and again.data["id"] == acc["id"]


def test_add_by_bad_refresh_token(ctx: AdminContext) -> None:
    with pytest.raises(GephyrError) as info:
        call(ctx, "accounts.add", refresh_token="1//garbage")
    assert info.value.code == "credential_invalid" and "invalid_grant" in info.value.message
    assert call(ctx, "accounts.list")["accounts"] == []


def test_add_by_refresh_token_needs_a_client(data_dir: Path) -> None:
    context = open_context(data_dir, {})
    try:
        with pytest.raises(GephyrError) as info:
            call(context, "accounts.add", refresh_token="1//x")
        assert (info.value.code, info.value.status) == ("oauth.not_configured", 400)
    finally:
        context.close()


def test_legacy_import_verifies_each_entry(ctx: AdminContext, oauth_idp: IdP) -> None:  # noqa: F811
    body = {
        "accounts": [
            {"email": "ana@example.com", "refresh_token": oauth_idp.grant()},
            {"email": "x@y.z", "refresh_token": "1//revoked"},
        ]
    }
    report = call(ctx, "accounts.import", body=body)
    assert (report["total"], report["created"], len(report["failed"])) == (2, 1, 1)
    assert report["failed"][0]["index"] == 1 and "invalid_grant" in report["failed"][0]["error"]
    assert report["accounts"][0]["email"] == "ana@example.com"


def test_refresh_rotates_and_shares_one_call(ctx: AdminContext, oauth_idp: IdP) -> None:  # noqa: F811
    acc = call(ctx, "accounts.add", refresh_token=oauth_idp.grant())
    first = table.get_account(ctx.store, acc["id"])
    assert first is not None
    expire(ctx, acc["id"])
    refresher = TokenRefresher(ctx.store, ctx.box, ctx.settings)
    before = len(oauth_idp.calls("/token"))
    threads = [threading.Thread(target=refresher.refresh, args=(acc["id"],)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(oauth_idp.calls("/token")) == before + 1  # one refresh in flight per account
    row = table.get_account(ctx.store, acc["id"])
    assert row is not None and row["token_expires_at"] > time.time() + 3000
    rotated = ctx.box.decrypt("account.secret", row["secret"])
    assert (
        rotated != ctx.box.decrypt("account.secret", first["secret"]) and rotated in oauth_idp.refresh_tokens
    )
    assert row["credential_hint"] == "…" + rotated[-4:]
    assert refresher.attempts_last_minute(acc["id"]) == 1


def test_invalid_grant_disables(ctx: AdminContext, oauth_idp: IdP) -> None:  # noqa: F811
    acc = call(ctx, "accounts.add", refresh_token=oauth_idp.grant())
    oauth_idp.revoke_all()
    refresher = TokenRefresher(ctx.store, ctx.box, ctx.settings)
    with pytest.raises(TokenError) as info:
        refresher.refresh(acc["id"], force=True)
    assert info.value.invalid_grant
    shown = call(ctx, "accounts.show", id=acc["id"])
    assert shown["disabled"] and shown["disabled_reason"].startswith("invalid_grant: ")


def test_signout_revokes(ctx: AdminContext, oauth_idp: IdP) -> None:  # noqa: F811
    acc = call(ctx, "accounts.add", refresh_token=oauth_idp.grant())
    secret = ctx.box.decrypt("account.secret", table.get_account(ctx.store, acc["id"])["secret"])  # type: ignore[index]
    oauth_idp.revoke_status = 503
    with pytest.raises(GephyrError) as info:
        call(ctx, "accounts.signout", id=acc["id"])
    assert info.value.code == "upstream_error"
    assert not call(ctx, "accounts.show", id=acc["id"])["disabled"]  # nothing changed
    oauth_idp.revoke_status = None
    result = call(ctx, "accounts.signout", id=acc["id"])
    assert result["revoked_remote"] is True and result["disabled"] is True
    assert oauth_idp.revoked == [secret]
    again = call(ctx, "accounts.add", refresh_token=oauth_idp.grant())
    assert not again["disabled"]  # signing in again revives it
    result = call(ctx, "accounts.signout", id=again["id"], revoke_remote=False, delete_local=True)
    assert result["revoked_remote"] is False and result["deleted"] is True
    assert oauth_idp.revoked == [secret]


def _generate(url: str, key: str) -> httpx.Response:
    body = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
    with httpx.Client(trust_env=False, timeout=30) as client:
        return client.post(
            f"{url}/v1beta/models/gemini-2.5-flash:generateContent",
            headers={"x-goog-api-key": key},
            json=body,
        )


@pytest.fixture
def oauth_relay(relay_server: RelayServer, oauth_idp: IdP, gemini_emulator: Emulator) -> RelayServer:  # noqa: F811
    oauth_idp.token_sinks.append(gemini_emulator.bearer_tokens.add)
    oauth_idp.revoke_sinks.append(gemini_emulator.bearer_tokens.discard)
    relay_server.configure(
        {**oauth_idp.config_patch(), "providers": {"gemini": {"base_url": gemini_emulator.url}}}
    )
    return relay_server


def test_relay_uses_and_refreshes_the_access_token(oauth_relay: RelayServer, oauth_idp: IdP) -> None:  # noqa: F811
    emu = oauth_relay.emulators["gemini"]
    acc = call(oauth_relay.ctx, "accounts.add", refresh_token=oauth_idp.grant())
    oauth_relay.ctx.records_changed()
    assert _generate(oauth_relay.url, oauth_relay.api_key).status_code == 200
    sent = emu.calls()[-1].headers
    assert sent["authorization"].startswith("Bearer ya29.emu-") and "x-goog-api-key" not in sent
    tokens_before = len(oauth_idp.calls("/token"))
    expire(oauth_relay.ctx, acc["id"])
    assert _generate(oauth_relay.url, oauth_relay.api_key).status_code == 200
    assert len(oauth_idp.calls("/token")) == tokens_before + 1
    assert emu.calls()[-1].headers["authorization"] != sent["authorization"]
    row = table.get_account(oauth_relay.ctx.store, acc["id"])
    assert row is not None and row["token_expires_at"] > time.time() + 3000


def test_revoked_grant_disables_and_fails_over(oauth_relay: RelayServer, oauth_idp: IdP) -> None:  # noqa: F811
    acc = call(oauth_relay.ctx, "accounts.add", refresh_token=oauth_idp.grant())
    oauth_relay.ctx.records_changed()
    oauth_idp.revoke_all()
    expire(oauth_relay.ctx, acc["id"])
    alone = _generate(oauth_relay.url, oauth_relay.api_key)
    assert alone.status_code == 503 and "gephyr oauth login" in alone.text
    shown = call(oauth_relay.ctx, "accounts.show", id=acc["id"])
    assert shown["disabled"] and shown["disabled_reason"].startswith("invalid_grant")
    call(oauth_relay.ctx, "accounts.add", refresh_token=oauth_idp.grant())  # linked again: revived
    oauth_relay.ctx.records_changed()
    oauth_relay.add_account("gemini", label="key", api_key=gemini_api.API_KEY)
    oauth_idp.revoke_all()
    expire(oauth_relay.ctx, acc["id"])
    for _ in range(2):  # whichever account goes first, the request is served
        assert _generate(oauth_relay.url, oauth_relay.api_key).status_code == 200
    assert call(oauth_relay.ctx, "accounts.show", id=acc["id"])["disabled"]
