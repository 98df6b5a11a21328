"""Model discovery (`accounts models`, `POST /api/accounts/{id}/models/fetch`) feeds the catalogue."""

from __future__ import annotations

from typing import Any

import httpx

from gephyr_core.admin import catalog, invoke
from gephyr_core.errors import GephyrError
from tests.cli_helpers import cli, cli_json
from tests.emulators.script import Error
from tests.relay.harness import RelayServer


def _fetch(relay: RelayServer, account_id: str) -> Any:
    return invoke(relay.ctx, catalog()["accounts.fetch_models"], {"id": account_id}).data


def _auth(relay: RelayServer) -> dict[str, str]:
    return {"authorization": f"Bearer {relay.api_key}"}


def test_discovered_models_reach_every_catalogue_shape(relay_server: RelayServer) -> None:
    acc = relay_server.add_account("openai", models=["gpt-4*"])
    gem = relay_server.add_account("gemini")
    before = httpx.get(relay_server.url + "/v1/models", headers=_auth(relay_server)).json()
    assert before["data"] == []
    assert _fetch(relay_server, acc["id"]) == {"models": ["gpt-4.1", "gpt-4o-mini"]}  # o3-mini filtered
    assert _fetch(relay_server, gem["id"])["models"] == [
        "gemini-2.5-flash",
        "gemini-2.5-pro",
        "gemini-3-pro-preview",
    ]
    assert relay_server.emulators["openai"].calls("models")[-1].header("authorization") is not None

    ids = [
        m["id"]
        for m in httpx.get(relay_server.url + "/v1/models", headers=_auth(relay_server)).json()["data"]
    ]
    assert ids == ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-3-pro-preview", "gpt-4.1", "gpt-4o-mini"]
    beta = httpx.get(f"{relay_server.url}/v1beta/models?key={relay_server.api_key}").json()
    assert "models/gpt-4.1" in [m["name"] for m in beta["models"]]
    detect = httpx.post(
        relay_server.url + "/v1/models/detect", headers=_auth(relay_server), json={"model": "gpt-4.1"}
    ).json()
    assert detect["provider"] == "openai"
    assert detect["accounts"] == [{"id": acc["id"], "label": acc["label"], "routable": True}]
    shown = invoke(relay_server.ctx, catalog()["accounts.show"], {"id": acc["id"]}).data
    assert shown["discovered_models"] == ["gpt-4.1", "gpt-4o-mini"]


def test_provider_failure_is_502_and_keeps_the_old_list(relay_server: RelayServer) -> None:
    acc = relay_server.add_account("anthropic")
    assert _fetch(relay_server, acc["id"])["models"] == [
        "claude-haiku-4-5",
        "claude-opus-4-1",
        "claude-sonnet-4-5",
    ]
    relay_server.emulators["anthropic"].push(Error(500, "boom"), route="models")
    try:
        _fetch(relay_server, acc["id"])
    except GephyrError as exc:
        assert exc.code == "upstream_error" and exc.status == 502
    else:
        raise AssertionError("a provider failure must fail the fetch")
    shown = invoke(relay_server.ctx, catalog()["accounts.show"], {"id": acc["id"]}).data
    assert len(shown["discovered_models"]) == 3


def test_cli_models_command(relay_server: RelayServer) -> None:
    relay_server.add_account("gemini", label="gem")
    env = {"GEPHYR_DATA_DIR": str(relay_server.ctx.dd.root)}
    data = cli_json("accounts", "models", "gem", env=env)
    assert data["models"][0] == "gemini-2.5-flash"
    assert cli("accounts", "models", "nobody", env=env).exit_code == 3
    signed_out = cli_json("accounts", "signout", "gem", env=env)
    assert signed_out["success"] is True
    result = cli("accounts", "models", "gem", env=env)
    assert result.exit_code == 2 and "signed out" in result.stderr


def test_model_listing_carries_the_header_profile(relay_server: RelayServer) -> None:
    from gephyr_core.admin import catalog, invoke

    acc = relay_server.add_account("openai")
    invoke(
        relay_server.ctx,
        catalog()["accounts.bind_header_profile"],
        {"id": acc["id"], "headers": {"OpenAI-Organization": "org_listing"}},
    )
    invoke(relay_server.ctx, catalog()["accounts.fetch_models"], {"id": acc["id"]})
    sent = relay_server.emulators["openai"].last_request
    assert sent.path == "/v1/models" and sent.header("openai-organization") == "org_listing"
