"""Account calls besides generation leave by the account's egress route (pool.md §3).

Token refresh, revocation, quota probes, list-models, health checks and native token counts of
a bound account go through a real forward proxy (proxy.py on loopback): its access log shows
each call, and with the proxy gone none of them reaches the identity provider or the emulator.
proxy.py logs the first request of each client connection, so `fresh` drops the server's
pooled connections before a call whose log line a test looks for.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from gephyr_core.admin import AdminContext, catalog, invoke, open_context
from gephyr_core.errors import GephyrError
from gephyr_core.store import accounts as table
from tests.emulators import openai_api
from tests.emulators.script import Emulator
from tests.oauth_idp import IdP, oauth_idp, oauth_idp_session  # noqa: F401
from tests.relay.harness import MODEL, RelayServer
from tests.test_pool_relay import ForwardProxy, check_target, forward_proxy, trigger  # noqa: F401

pytest.importorskip("proxy", reason="proxy.py is in the test extra")

REJECTED = "require_proxy_for_account_requests"


def call(ctx: AdminContext, name: str, **kwargs: Any) -> Any:
    return invoke(ctx, catalog()[name], kwargs).data


def port(url: str) -> str:
    return url.rsplit(":", 1)[1]


def runtime(server: RelayServer) -> Any:
    return server.app.app.state.runtime


def expire(ctx: AdminContext, account_id: str) -> None:
    with ctx.store.transaction(change=True) as db:
        table.update_account(db, account_id, {"token_expires_at": int(time.time()) + 10})
    ctx.records_changed()


def fresh(server: RelayServer) -> None:
    """Close the server's pooled upstream clients: the next call opens a new proxy connection."""
    clients = runtime(server).pool_clients
    clients.retire(set())
    clients.sweep_sync()


def bind_all(server: RelayServer, proxy: ForwardProxy, target: str, ids: list[str], **pool: Any) -> None:
    server.configure(
        {
            "pool": {
                "enabled": True,
                "health_check_url": f"{target}/generate_204",
                "proxies": [{"id": "fwd", "url": proxy.url}],
                **pool,
            }
        }
    )
    for account_id in ids:
        call(server.ctx, "pool.bind", account_id=account_id, proxy_id="fwd")
    runtime(server).poll_once()  # the watcher would within a second: config and bindings now


@pytest.fixture
def accounts(relay_server: RelayServer, oauth_idp: IdP, gemini_emulator: Emulator) -> dict[str, str]:  # noqa: F811
    """An OAuth (gemini) account, an openai API key and an anthropic API key on one relay."""
    oauth_idp.token_sinks.append(gemini_emulator.bearer_tokens.add)
    relay_server.configure(
        {
            **oauth_idp.config_patch(),
            "providers": {"gemini": {"base_url": gemini_emulator.url}},
            "startup_health": {"delay_min_seconds": 0, "delay_max_seconds": 0},  # no pause between accounts
        }
    )
    linked = call(relay_server.ctx, "accounts.add", refresh_token=oauth_idp.grant())  # linking: no route yet
    return {
        "oauth": linked["id"],
        "openai": relay_server.add_account("openai", label="key")["id"],
        "anthropic": relay_server.add_account("anthropic", label="claude")["id"],
    }


def count(server: RelayServer) -> httpx.Response:
    body = {"model": MODEL["anthropic"], "messages": [{"role": "user", "content": "count these words"}]}
    headers = {"x-api-key": server.api_key, "anthropic-version": "2023-06-01"}
    return httpx.post(f"{server.url}/v1/messages/count_tokens", json=body, headers=headers, timeout=30)


def generate(server: RelayServer) -> httpx.Response:
    body = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
    return httpx.post(
        f"{server.url}/v1beta/models/{MODEL['gemini']}:generateContent",
        headers={"x-goog-api-key": server.api_key},
        json=body,
        timeout=30,
    )


def test_account_calls_of_a_bound_account_go_through_the_proxy(
    relay_server: RelayServer,
    accounts: dict[str, str],
    oauth_idp: IdP,  # noqa: F811
    forward_proxy: ForwardProxy,  # noqa: F811
    check_target: str,  # noqa: F811
) -> None:
    emu = {p: port(relay_server.emulators[p].url) for p in ("openai", "anthropic")}
    idp = port(oauth_idp.url)
    bind_all(relay_server, forward_proxy, check_target, list(accounts.values()))
    rt, ctx = runtime(relay_server), relay_server.ctx

    expire(ctx, accounts["oauth"])
    summary = call(ctx, "accounts.health_check", probe_api_keys=True)  # refresh + list-models
    statuses = {a["account_id"]: a["status"] for a in summary["accounts"]}
    assert statuses[accounts["oauth"]] == "refreshed" and statuses[accounts["openai"]] == "ok"
    assert forward_proxy.seen(f"POST 127.0.0.1:{idp}/token")
    assert forward_proxy.seen(f"GET 127.0.0.1:{emu['openai']}/v1/models")

    fresh(relay_server)
    quota = call(ctx, "accounts.quota", id=accounts["openai"])
    assert quota["source"] == "probe"
    assert forward_proxy.seen(f"POST 127.0.0.1:{emu['openai']}/v1/chat/completions")
    blocking = rt.pool_clients._sync[next(iter(rt.pool_clients._sync))]
    assert call(ctx, "accounts.fetch_models", id=accounts["anthropic"])["models"]
    assert forward_proxy.seen(f"GET 127.0.0.1:{emu['anthropic']}/v1/models")
    assert list(rt.pool_clients._sync.values()) == [blocking]  # one pooled client for the route, reused

    native = count(relay_server)
    assert native.status_code == 200 and native.headers["x-gephyr-token-count"] == "native"
    assert forward_proxy.seen(f"POST 127.0.0.1:{emu['anthropic']}/v1/messages/count_tokens")

    fresh(relay_server)
    expire(ctx, accounts["oauth"])
    tokens = len(oauth_idp.calls("/token"))
    assert generate(relay_server).status_code == 200  # the relay refreshes first, on the account's route
    assert len(oauth_idp.calls("/token")) == tokens + 1

    fresh(relay_server)
    result = call(ctx, "accounts.signout", id=accounts["oauth"], revoke_remote=True)
    assert result["revoked_remote"] is True and oauth_idp.revoked
    assert forward_proxy.seen(f"POST 127.0.0.1:{idp}/revoke")
    assert rt.pool.counters.in_flight["fwd"] == 0 and rt.pool.counters.selections["fwd"] >= 8


def test_dead_bound_proxy_is_never_bypassed(
    relay_server: RelayServer,
    accounts: dict[str, str],
    oauth_idp: IdP,  # noqa: F811
    forward_proxy: ForwardProxy,  # noqa: F811
    check_target: str,  # noqa: F811
) -> None:
    """Killed but not yet known down: every account call fails instead of going direct."""
    bind_all(relay_server, forward_proxy, check_target, list(accounts.values()))
    forward_proxy.kill()
    ctx, emulators = relay_server.ctx, relay_server.emulators
    before = {p: len(e.requests) for p, e in emulators.items()}
    expire(ctx, accounts["oauth"])
    summary = call(ctx, "accounts.health_check", probe_api_keys=True)
    assert {a["status"] for a in summary["accounts"]} == {"error"}
    for name, args in (
        ("accounts.quota", {"id": accounts["openai"]}),
        ("accounts.fetch_models", {"id": accounts["anthropic"]}),
    ):
        with pytest.raises(GephyrError) as info:
            call(ctx, name, **args)
        assert info.value.code == "upstream_unreachable"
    assert count(relay_server).headers["x-gephyr-token-count"] == "estimated"
    refused = generate(relay_server)
    assert refused.status_code >= 500 and "cannot reach" in refused.text  # the refresh could not leave
    with pytest.raises(GephyrError):
        call(ctx, "accounts.signout", id=accounts["oauth"], revoke_remote=True)
    assert {p: len(e.requests) for p, e in emulators.items()} == before
    assert oauth_idp.calls("/token") == [oauth_idp.calls("/token")[0]]  # only the linking refresh
    assert oauth_idp.revoked == []


def test_bound_proxy_down_fails_closed_with_require_proxy(
    relay_server: RelayServer,
    accounts: dict[str, str],
    oauth_idp: IdP,  # noqa: F811
    forward_proxy: ForwardProxy,  # noqa: F811
    check_target: str,  # noqa: F811
) -> None:
    bind_all(
        relay_server,
        forward_proxy,
        check_target,
        list(accounts.values()),
        require_proxy_for_account_requests=True,
    )
    forward_proxy.kill()
    assert trigger(relay_server)["proxies"][0]["is_healthy"] is False
    rt, ctx, emulators = runtime(relay_server), relay_server.ctx, relay_server.emulators
    before = {p: len(e.requests) for p, e in emulators.items()}
    tokens = len(oauth_idp.calls("/token"))
    for name, args in (
        ("accounts.quota", {"id": accounts["openai"]}),
        ("accounts.fetch_models", {"id": accounts["anthropic"]}),
        ("accounts.signout", {"id": accounts["oauth"], "revoke_remote": True}),
    ):
        with pytest.raises(GephyrError) as info:
            call(ctx, name, **args)
        assert REJECTED in info.value.message, name
    row = table.get_account(ctx.store, accounts["oauth"])
    assert row is not None and row["secret"] and not row["disabled"]  # the signout stopped before any change
    expire(ctx, accounts["oauth"])
    summary = call(ctx, "accounts.health_check", probe_api_keys=True)
    details = {a["account_id"]: a["detail"] for a in summary["accounts"]}
    assert REJECTED in details[accounts["oauth"]] and REJECTED in details[accounts["openai"]]
    rejected = rt.pool.strict_rejections_total
    refused = generate(relay_server)
    assert refused.status_code == 503 and REJECTED in refused.text  # the token refresh was refused
    assert rt.pool.strict_rejections_total == rejected + 1  # a refusal is not retried on the same account
    assert count(relay_server).headers["x-gephyr-token-count"] == "estimated"
    assert {p: len(e.requests) for p, e in emulators.items()} == before
    assert len(oauth_idp.calls("/token")) == tokens and oauth_idp.revoked == []
    assert rt.pool.metrics()["strict_rejections_total"] == rt.pool.strict_rejections_total >= 8


def test_local_cli_calls_take_the_same_route(
    data_dir: Path,
    openai_emulator: Emulator,
    forward_proxy: ForwardProxy,  # noqa: F811
) -> None:
    """Without a server the CLI builds a short-lived client, on the account's route all the same."""
    ctx = open_context(data_dir, {})
    try:
        base = f"{openai_emulator.url}/v1"
        acc = call(ctx, "accounts.add", provider="openai", api_key=openai_api.API_KEY, base_url=base)
        patch = {"pool": {"enabled": True, "proxies": [{"id": "fwd", "url": forward_proxy.url}]}}
        call(ctx, "config.save", config=patch)
        call(ctx, "pool.bind", account_id=acc["id"], proxy_id="fwd")
        emu = port(openai_emulator.url)
        assert call(ctx, "accounts.quota", id=acc["id"])["source"] == "probe"
        assert forward_proxy.seen(f"POST 127.0.0.1:{emu}/v1/chat/completions")
        assert call(ctx, "accounts.fetch_models", id=acc["id"])["models"]
        assert forward_proxy.seen(f"GET 127.0.0.1:{emu}/v1/models")
        verified = call(
            ctx, "accounts.add", provider="openai", api_key=openai_api.API_KEY, base_url=base, verify=True
        )  # the same account again: its bound route
        assert "warnings" not in verified
        proxy = {"id": "fwd", "url": forward_proxy.url, "enabled": False}
        call(
            ctx,
            "config.save",
            config={"pool": {"proxies": [proxy], "require_proxy_for_account_requests": True}},
        )
        before = len(openai_emulator.requests)
        with pytest.raises(GephyrError) as info:
            call(ctx, "accounts.quota", id=acc["id"])
        assert info.value.code == "upstream_unreachable" and REJECTED in info.value.message
        added = call(
            ctx, "accounts.add", provider="openai", api_key="sk-new-0003", base_url=base, verify=True
        )
        assert REJECTED in added["warnings"][0]  # stored, with the verification refused
        assert len(openai_emulator.requests) == before
    finally:
        ctx.close()


def test_linking_calls_take_the_shared_route(
    relay_server: RelayServer,
    oauth_idp: IdP,  # noqa: F811
    gemini_emulator: Emulator,
    forward_proxy: ForwardProxy,  # noqa: F811
    check_target: str,  # noqa: F811
) -> None:
    """Calls made for no account yet (linking: token, identity) use the pool's shared proxy."""
    gemini = {"gemini": {"base_url": gemini_emulator.url}}
    relay_server.configure({**oauth_idp.config_patch(), "providers": gemini})
    bind_all(relay_server, forward_proxy, check_target, [])  # the proxy is enabled and bound to nobody
    idp = port(oauth_idp.url)
    fresh(relay_server)
    linked = call(relay_server.ctx, "accounts.add", refresh_token=oauth_idp.grant())
    assert linked["email"] == "ana@example.com"
    assert forward_proxy.seen(f"POST 127.0.0.1:{idp}/token")
    # the identity check (jwks or userinfo) reuses the proxy connection, so proxy.py logs only the
    # first call; the pool's selection count shows both took the shared route
    assert runtime(relay_server).pool.counters.selections["fwd"] == 2
