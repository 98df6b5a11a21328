"""The outbound header policy (protocols.md §1.3a): unit rules, the live relay and the policy endpoint."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from gephyr_core.relay.upstream import Credential, outbound_headers, redact_headers
from tests.cli_helpers import cli_json
from tests.emulators import anthropic_api, openai_api
from tests.relay.harness import MODEL, RelayServer

HOSTILE = {
    "authorization": "Bearer client-secret",
    "x-api-key": "client-key",
    "x-goog-api-key": "client-goog",
    "cookie": "session=abc",
    "host": "evil.example",
    "x-forwarded-for": "10.0.0.1",
    "x-forwarded-proto": "http",
    "forwarded": "for=10.0.0.1",
    "x-gephyr-debug": "1",
    "connection": "upgrade",
    "proxy-authorization": "Basic eA==",
}


def _cred(provider: str, kind: str = "api_key") -> Credential:
    return Credential(
        {"provider": provider, "credential_kind": kind, "base_url": "http://x"}, "upstream-secret"
    )


def test_never_forwarded_even_when_listed() -> None:
    client = {**HOSTILE, "x-tag": "t1", "x-other": "o"}
    passthrough = {"openai": [*HOSTILE, "X-Tag"]}
    headers = outbound_headers(_cred("openai"), client, passthrough, "2023-06-01", True)
    assert headers["x-tag"] == "t1" and "x-other" not in headers
    assert headers["authorization"] == "Bearer upstream-secret"
    for name in HOSTILE:
        if name != "authorization":
            assert name not in headers, name
    assert headers["user-agent"].startswith("gephyr/") and headers["accept-encoding"] == "gzip"


def test_profile_wins_except_over_the_credential() -> None:
    profile = {"User-Agent": "team/2", "Authorization": "Bearer stolen", "x-goog-api-key": "k", "X-Proj": "p"}
    headers = outbound_headers(_cred("gemini"), {}, {}, "2023-06-01", True, profile)
    assert headers["user-agent"] == "team/2" and headers["x-proj"] == "p"
    assert headers["x-goog-api-key"] == "upstream-secret" and "authorization" not in headers
    oauth = outbound_headers(_cred("gemini", "oauth"), {}, {}, "v", True, profile)
    assert oauth["authorization"] == "Bearer upstream-secret"


def test_anthropic_betas_and_version() -> None:
    client = {"anthropic-beta": "a,b", "anthropic-version": "2099-01-01"}
    allow = {"anthropic": ["anthropic-beta", "anthropic-version"]}
    fast = outbound_headers(_cred("anthropic"), client, allow, "2023-06-01", True, {"anthropic-beta": "b, c"})
    assert fast["anthropic-beta"] == "a,b,c" and fast["anthropic-version"] == "2099-01-01"
    assert fast["x-api-key"] == "upstream-secret"
    translated = outbound_headers(_cred("anthropic"), client, allow, "2023-06-01", False)
    assert "anthropic-beta" not in translated and translated["anthropic-version"] == "2023-06-01"


def test_redaction() -> None:
    shown = redact_headers(
        {"x-api-key": "s", "Authorization": "b", "x-session-token": "t", "x-auth-user": "u", "x-tag": "v"}
    )
    assert shown == {
        "x-api-key": "[redacted]",
        "Authorization": "[redacted]",
        "x-session-token": "[redacted]",
        "x-auth-user": "[redacted]",
        "x-tag": "v",
    }


def _post(relay: RelayServer, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(relay.url + path, json=body, headers=headers)


def test_client_secrets_never_reach_the_emulator(
    relay_server: RelayServer, caplog: pytest.LogCaptureFixture
) -> None:
    relay_server.add_account("openai")
    relay_server.add_account("anthropic")
    relay_server.configure(
        {
            "protocols": {
                "passthrough_headers": {"openai": ["x-tag", "cookie", "x-forwarded-for", "x-gephyr-debug"]}
            },
            "debug_logging": {"log_outbound_headers": True},
        }
    )
    extra = {k: v for k, v in HOSTILE.items() if k not in {"authorization", "host", "connection"}}
    with caplog.at_level(logging.INFO, logger="gephyr.relay.upstream"):
        r = _post(
            relay_server,
            "/v1/chat/completions",
            {"model": MODEL["openai"], "messages": [{"role": "user", "content": "hi"}]},
            authorization=f"Bearer {relay_server.api_key}",
            **{"x-tag": "keep-me", "x-untagged": "drop-me"},
            **extra,
        )
    assert r.status_code == 200, r.text
    seen = relay_server.emulators["openai"].calls()[-1]
    assert seen.header("x-tag") == "keep-me" and seen.header("x-untagged") is None
    assert seen.header("authorization") == f"Bearer {openai_api.API_KEY}"
    for name in (
        "cookie",
        "x-forwarded-for",
        "x-forwarded-proto",
        "forwarded",
        "x-gephyr-debug",
        "x-goog-api-key",
    ):
        assert seen.header(name) is None, name
    assert seen.header("x-api-key") is None
    for emu in relay_server.emulators.values():
        assert not emu.saw(relay_server.api_key)
        assert not emu.saw("session=abc") and not emu.saw("client-key")
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "x-tag" in logged and openai_api.API_KEY not in logged and "[redacted]" in logged

    r = _post(
        relay_server,
        "/v1/messages",
        {"model": MODEL["anthropic"], "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
        **{"x-api-key": relay_server.api_key, "anthropic-version": "2023-06-01", "anthropic-beta": "tools-1"},
        **{"cookie": "session=abc", "x-forwarded-for": "10.0.0.9"},
    )
    assert r.status_code == 200, r.text
    seen = relay_server.emulators["anthropic"].calls()[-1]
    assert seen.header("anthropic-beta") == "tools-1" and seen.header("x-api-key") == anthropic_api.API_KEY
    assert seen.header("cookie") is None and seen.header("x-forwarded-for") is None


def test_policy_endpoint_and_cli(relay_server: RelayServer) -> None:
    acc = relay_server.add_account("openai")
    relay_server.configure(
        {"protocols": {"passthrough_headers": {"gemini": ["X-Goog-User-Project", "Cookie"]}}}
    )
    from gephyr_core.admin import catalog, invoke

    invoke(
        relay_server.ctx,
        catalog()["accounts.bind_header_profile"],
        {"id": acc["id"], "headers": {"x-a": "1"}},
    )
    rt = relay_server.ctx.runtime
    token = {"x-gephyr-local-token": rt.local_token}  # type: ignore[union-attr]
    main = httpx.get(relay_server.url + "/api/proxy/outbound-policy", headers=token).json()
    alias = httpx.get(relay_server.url + "/api/proxy/google/outbound-policy", headers=token).json()
    assert main == alias
    assert main["providers"]["gemini"]["passthrough_allow"] == ["x-goog-user-project"]
    assert main["providers"]["anthropic"]["passthrough_allow"] == ["anthropic-beta", "anthropic-version"]
    assert "x-forwarded-*" in main["providers"]["openai"]["never_forwarded"]
    assert "x-gephyr-*" in main["providers"]["openai"]["never_forwarded"]
    assert main["header_profiles"] == {"accounts_with_profile": 1}
    assert main["debug_redaction"]["enabled"] is False
    local = cli_json("server", "outbound-policy")
    assert local["header_profiles"] == {"accounts_with_profile": 0}
    assert local["providers"]["openai"]["user_agent"].startswith("gephyr/")
