"""An upstream 401 on an OAuth account: one forced refresh, the same account again (routing.md §10.2)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from gephyr_core.admin import catalog, invoke
from tests.emulators.script import Emulator
from tests.oauth_idp import IdP, oauth_idp, oauth_idp_session  # noqa: F401
from tests.relay.harness import RelayServer


def call(relay: RelayServer, name: str, **kwargs: Any) -> Any:
    return invoke(relay.ctx, catalog()[name], kwargs).data


def generate(relay: RelayServer) -> httpx.Response:
    body = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
    with httpx.Client(trust_env=False, timeout=30) as client:
        return client.post(
            f"{relay.url}/v1beta/models/gemini-2.5-flash:generateContent",
            headers={"x-goog-api-key": relay.api_key},
            json=body,
        )


@pytest.fixture
def linked(relay_server: RelayServer, oauth_idp: IdP, gemini_emulator: Emulator) -> dict[str, Any]:  # noqa: F811
    oauth_idp.token_sinks.append(gemini_emulator.bearer_tokens.add)
    relay_server.configure(
        {**oauth_idp.config_patch(), "providers": {"gemini": {"base_url": gemini_emulator.url}}}
    )
    acc: dict[str, Any] = call(relay_server, "accounts.add", refresh_token=oauth_idp.grant())
    relay_server.ctx.records_changed()
    assert generate(relay_server).status_code == 200
    return acc


def _trace(relay: RelayServer, response: httpx.Response) -> dict[str, Any]:
    data: dict[str, Any] = call(relay, "logs.explain", id=response.headers["x-request-id"])
    return data["trace"]


def test_a_401_refreshes_once_and_retries_the_same_account(
    relay_server: RelayServer, oauth_idp: IdP, gemini_emulator: Emulator, linked: dict[str, Any]  # noqa: F811
) -> None:
    refused = gemini_emulator.calls()[-1].headers["authorization"].removeprefix("Bearer ")
    gemini_emulator.bearer_tokens.discard(refused)  # the provider revoked the token early
    tokens_before = len(oauth_idp.calls("/token"))
    r = generate(relay_server)
    assert r.status_code == 200
    assert len(oauth_idp.calls("/token")) == tokens_before + 1
    assert gemini_emulator.calls()[-1].headers["authorization"] != f"Bearer {refused}"
    attempts = _trace(relay_server, r)["attempts"]
    assert [(a["step"], a["status"]) for a in attempts][-1] == ("auth_refresh_retry", 200)
    assert attempts[0]["status"] == 401 and {a["account_id"] for a in attempts} == {linked["id"]}
    shown = call(relay_server, "accounts.show", id=linked["id"])
    assert not shown["forbidden"] and not shown["disabled"]


def test_a_second_401_after_refresh_forbids_the_account(
    relay_server: RelayServer, oauth_idp: IdP, gemini_emulator: Emulator, linked: dict[str, Any]  # noqa: F811
) -> None:
    oauth_idp.token_sinks.clear()  # new tokens never reach the provider: it keeps refusing
    gemini_emulator.bearer_tokens.clear()
    tokens_before = len(oauth_idp.calls("/token"))
    r = generate(relay_server)
    assert r.status_code == 503, r.text  # an upstream 401 is never passed to the client as its own 401
    assert len(oauth_idp.calls("/token")) == tokens_before + 1  # exactly one forced refresh
    steps = [(a["step"], a["status"]) for a in _trace(relay_server, r)["attempts"]]
    assert [status for _, status in steps] == [401, 401] and steps[1][0] == "auth_refresh_retry"
    deadline = time.monotonic() + 5
    while not (shown := call(relay_server, "accounts.show", id=linked["id"]))["forbidden"]:
        assert time.monotonic() < deadline, "the forbidden flag was never persisted"
        time.sleep(0.05)  # the relay writes learned flags behind the request
    assert shown["forbidden_reason"] == "upstream_401"
