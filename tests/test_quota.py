"""Quota snapshots (accounts.md §9): header and 429-body parsing, the probe, protection, bulk refresh."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gephyr_core.accounts import quota
from gephyr_core.admin import AdminContext, catalog, invoke, open_context
from gephyr_core.admin.quota import stagger_ms
from gephyr_core.errors import GephyrError
from gephyr_core.store import accounts as table
from tests.cli_helpers import cli, cli_json
from tests.emulators import anthropic_api, gemini_api, openai_api
from tests.emulators.script import Emulator, Error, RateLimits

FAST = {"scheduler": {"refresh_stagger_min_ms": 0, "refresh_stagger_max_ms": 0}}


@pytest.fixture
def ctx(data_dir: Path) -> Iterator[AdminContext]:
    context = open_context(data_dir, {})
    invoke(context, catalog()["config.save"], {"config": FAST})
    yield context
    context.close()


def call(ctx: AdminContext, name: str, **kwargs: Any) -> Any:
    return invoke(ctx, catalog()[name], kwargs).data


def add(ctx: AdminContext, emu: Emulator, key: str, label: str, base: str = "") -> str:
    data = call(ctx, "accounts.add", provider=emu.provider, api_key=key, label=label, base_url=emu.url + base)
    return str(data["id"])


# -- parsing ---------------------------------------------------------------------------------
def test_openai_headers() -> None:
    headers = {
        "X-RateLimit-Limit-Requests": "100",
        "x-ratelimit-remaining-requests": "25",
        "x-ratelimit-reset-requests": "1h2m3.5s",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "999",
        "x-ratelimit-reset-tokens": "20ms",
    }
    entry = quota.from_headers("openai", headers, "GPT-4o-2024-08-06", now=1000.0)
    assert entry == {
        "name": "gpt-4o",
        "percentage": 25,
        "remaining_requests": 25,
        "limit_requests": 100,
        "remaining_tokens": 999,
        "limit_tokens": 1000,
        "reset_time": 1001,  # no dimension exhausted: the earliest reset, rounded up
    }
    exhausted = {**headers, "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6m0s"}
    entry = quota.from_headers("openai", exhausted, "gpt-4o", now=1000.0)
    assert entry is not None and (entry["percentage"], entry["reset_time"]) == (0, 1360)
    assert quota.from_headers("openai", {"x-ratelimit-reset-requests": "1s"}, "gpt-4o") is None
    assert quota.from_headers("gemini", headers, "gemini-2.5-flash") is None


def test_anthropic_headers() -> None:
    headers = {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "40",
        "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:30Z",
        "anthropic-ratelimit-output-tokens-limit": "1000",
        "anthropic-ratelimit-output-tokens-remaining": "0",
        "anthropic-ratelimit-output-tokens-reset": "2026-01-01T00:01:00Z",
        "anthropic-ratelimit-tokens-limit": "junk",
    }
    entry = quota.from_headers("anthropic", headers, "claude-sonnet-4-5-20250929", now=0)
    assert entry is not None
    assert (entry["name"], entry["percentage"]) == ("claude-sonnet-4-5", 0)
    assert (entry["remaining_requests"], entry["limit_requests"], entry["limit_tokens"]) == (40, 50, None)
    assert entry["reset_time"] == 1767225660  # the exhausted dimension's reset wins


def test_gemini_429_body() -> None:
    body = {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {
                            "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                            "quotaDimensions": {"model": "gemini-2.5-pro", "location": "global"},
                            "quotaValue": "5",
                        },
                        {"quotaId": "GenerateContentInputTokensPerModelPerMinute", "quotaValue": "250000"},
                    ],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"},
            ],
        }
    }
    models = {m["name"]: m for m in quota.from_error_body("gemini", 429, body, "gemini-2.5-flash", now=100.0)}
    assert models["gemini-2.5-pro"]["limit_requests"] == 5
    assert models["gemini-2.5-pro"]["remaining_requests"] == 0
    assert models["gemini-2.5-flash"]["limit_tokens"] == 250000
    assert all(m["percentage"] == 0 and m["reset_time"] == 137 for m in models.values())
    assert quota.from_error_body("gemini", 500, body, "gemini-2.5-flash") == []
    assert quota.from_error_body("gemini", 429, b"not json", "gemini-2.5-flash") == []


def test_openai_insufficient_quota() -> None:
    body = b'{"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}'
    (entry,) = quota.from_error_body("openai", 429, body, "gpt-4o")
    assert (entry["percentage"], entry["remaining_requests"], entry["reset_time"]) == (0, 0, None)
    assert quota.from_error_body("openai", 429, b'{"error": {"code": "rate_limit"}}', "gpt-4o") == []


def test_protection_and_merge() -> None:
    snap = quota.quota_data(
        [
            quota.quota_model("a", {"requests": (100, 5, None)}),
            quota.quota_model("b", {"requests": (100, 50, None)}),
            quota.quota_model("c", {}),
        ],
        "headers",
    )
    assert quota.protect(["b", "c"], snap, 10, []) == ["c", "a"]  # b recovered, c unknown: kept
    assert quota.protect([], snap, 10, ["b*"]) == []  # only monitored models
    merged = quota.merge({"models": [{"name": "z"}, {"name": "a", "percentage": 99}]}, snap)
    assert [m["name"] for m in merged["models"]] == ["a", "b", "c", "z"]


def test_stagger_is_deterministic_and_bounded() -> None:
    delays = {stagger_ms(f"id-{n}", 250, 1500) for n in range(50)}
    assert all(250 <= d <= 1500 for d in delays) and len(delays) > 10
    assert stagger_ms("x", 250, 1500) == stagger_ms("x", 250, 1500)
    assert stagger_ms("x", 0, 0) == 0


# -- the probe -------------------------------------------------------------------------------
def test_probe_openai_stores_snapshot(ctx: AdminContext, openai_emulator: Emulator) -> None:
    account = add(ctx, openai_emulator, openai_api.API_KEY, "a", "/v1")
    limits = RateLimits(requests_limit=200, requests_remaining=20, tokens_remaining=900_000)
    openai_emulator.rate_limits = limits
    data = call(ctx, "accounts.quota", id=account)
    (entry,) = data["models"]
    assert (data["source"], data["is_forbidden"]) == ("probe", False)
    assert (entry["name"], entry["percentage"], entry["remaining_requests"]) == ("gpt-4o-mini", 10, 20)
    sent = openai_emulator.calls()[-1]
    assert sent.body["max_tokens"] == 1 and sent.body["messages"] == [{"role": "user", "content": "ping"}]
    assert sent.body["stream"] is False
    assert call(ctx, "accounts.quota", id=account, cached=True) == data
    counted = {**data, "models": [{**entry, "request_count": 0}]}  # no relay traffic since the probe
    assert call(ctx, "accounts.show", id=account)["quota"] == counted
    assert len(openai_emulator.calls()) == 1  # cached reads never call upstream


def test_probe_anthropic_and_profile_headers(ctx: AdminContext, anthropic_emulator: Emulator) -> None:
    account = add(ctx, anthropic_emulator, anthropic_api.API_KEY, "b")
    call(ctx, "accounts.update", id=account, probe_model="claude-haiku-4-5")
    call(ctx, "accounts.bind_header_profile", id=account, headers={"anthropic-beta": "x-test"})
    data = call(ctx, "accounts.quota", id=account)
    assert data["models"][0]["name"] == "claude-haiku-4-5" and data["models"][0]["percentage"] is not None
    sent = anthropic_emulator.calls()[-1]
    assert sent.header("x-api-key") == anthropic_api.API_KEY and sent.header("anthropic-beta") == "x-test"
    assert sent.body["model"] == "claude-haiku-4-5" and sent.body["max_tokens"] == 1


def test_probe_gemini_429_and_403(ctx: AdminContext, gemini_emulator: Emulator) -> None:
    account = add(ctx, gemini_emulator, gemini_api.API_KEY, "g")
    gemini_emulator.push(Error(429, retry_after=30))
    data = call(ctx, "accounts.quota", id=account)
    entry = data["models"][0]
    assert (entry["name"], entry["percentage"]) == ("gemini-2.0-flash", 0)
    assert entry["reset_time"] >= time.time() + 25
    sent = gemini_emulator.calls()[-1]
    assert sent.body["generationConfig"] == {"maxOutputTokens": 1}
    gemini_emulator.push(Error(403, "Permission denied on resource"))
    data = call(ctx, "accounts.quota", id=account)
    assert data["is_forbidden"] is True
    shown = call(ctx, "accounts.show", id=account)
    assert shown["forbidden"] and shown["forbidden_reason"] == "upstream_403: Permission denied on resource"
    assert [m["name"] for m in shown["quota"]["models"]] == ["gemini-2.0-flash"]  # earlier entry kept
    data = call(ctx, "accounts.quota", id=account)  # success clears forbidden
    assert not call(ctx, "accounts.show", id=account)["forbidden"] and not data["is_forbidden"]


def test_probe_retries_5xx_then_fails(ctx: AdminContext, openai_emulator: Emulator) -> None:
    account = add(ctx, openai_emulator, openai_api.API_KEY, "a", "/v1")
    openai_emulator.push(Error(503), times=1)
    from gephyr_core.accounts import probe

    v = probe.Verifier(ctx.store, ctx.box, ctx.settings, retry_delay=0.01)
    assert v.probe(account)["source"] == "probe"  # one 503, then a success
    openai_emulator.push(Error(500), times=3)
    with pytest.raises(GephyrError) as info:
        v.probe(account)
    assert info.value.code == "upstream_error" and "HTTP 500" in info.value.message
    assert len(openai_emulator.calls()) == 5


def test_probe_401_disables_api_key(ctx: AdminContext, openai_emulator: Emulator) -> None:
    account = add(ctx, openai_emulator, "sk-wrong-key-0000", "a", "/v1")
    with pytest.raises(GephyrError) as info:
        call(ctx, "accounts.quota", id=account)
    assert info.value.code == "credential_invalid"
    shown = call(ctx, "accounts.show", id=account)
    assert shown["disabled"] and shown["disabled_reason"] == "invalid_api_key"
    with pytest.raises(GephyrError) as info:
        call(ctx, "accounts.quota", id="nope")
    assert info.value.code == "not_found"


def test_quota_protection(ctx: AdminContext, openai_emulator: Emulator) -> None:
    account = add(ctx, openai_emulator, openai_api.API_KEY, "a", "/v1")
    call(ctx, "accounts.quota", id=account)
    assert call(ctx, "accounts.show", id=account)["protected_models"] == []  # protection off
    invoke(ctx, catalog()["config.save"], {"config": {"quota_protection": {"enabled": True}}})
    openai_emulator.rate_limits = RateLimits(requests_limit=100, requests_remaining=5)
    call(ctx, "accounts.quota", id=account)
    assert call(ctx, "accounts.show", id=account)["protected_models"] == ["gpt-4o-mini"]
    openai_emulator.rate_limits = RateLimits(requests_limit=100, requests_remaining=80)
    call(ctx, "accounts.quota", id=account)
    assert call(ctx, "accounts.show", id=account)["protected_models"] == []


def test_bulk_refresh(ctx: AdminContext, openai_emulator: Emulator, gemini_emulator: Emulator) -> None:
    with pytest.raises(GephyrError) as info:
        call(ctx, "accounts.refresh")
    assert (info.value.code, info.value.status) == ("confirmation_required", 400)
    with pytest.raises(GephyrError):
        call(ctx, "accounts.refresh", confirm="maybe")
    good = add(ctx, openai_emulator, openai_api.API_KEY, "good", "/v1")
    add(ctx, openai_emulator, "sk-bad-0000", "bad", "/v1")
    off = add(ctx, gemini_emulator, gemini_api.API_KEY, "off")
    call(ctx, "accounts.toggle_proxy", id=off, enable=False)
    result = call(ctx, "accounts.refresh", confirm="CONFIRM")
    assert (result["total"], result["success"], result["failed"]) == (2, 1, 1)
    assert sorted(result["details"]) == ["bad: openai rejected the credential of bad (HTTP 401)", "good: ok"]
    assert gemini_emulator.calls() == []  # proxy-disabled accounts are skipped
    row = table.get_account(ctx.store, good)
    assert row is not None and row["quota"]["source"] == "probe"


def test_cli(openai_emulator: Emulator) -> None:
    out = cli_json("config", "set", "scheduler.refresh_stagger_max_ms", "0")
    assert out
    cli_json("config", "set", "scheduler.refresh_stagger_min_ms", "0")
    cli_json(
        "accounts",
        "add",
        "--provider",
        "openai",
        "--api-key",
        openai_api.API_KEY,
        "--label",
        "a",
        "--base-url",
        openai_emulator.url + "/v1",
    )
    cached = cli("accounts", "quota", "a", "--cached")
    assert cached.exit_code == 0 and "no quota snapshot" in cached.stdout
    shown = cli("accounts", "quota", "a")
    assert shown.exit_code == 0 and "gpt-4o-mini" in shown.stdout and "source probe" in shown.stdout
    refused = cli("accounts", "refresh")
    assert refused.exit_code == 5 and "--yes" in refused.stderr
    done = cli_json("accounts", "refresh", "--yes")
    assert done == {"total": 1, "success": 1, "failed": 0, "details": ["a: ok"]}
    assert cli("accounts", "quota", "nobody").exit_code == 3
