"""Header profiles (accounts.md §10): versions round-trip, validation, audit, and the relay applies them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from gephyr_core.admin import catalog, invoke
from gephyr_core.admin.context import open_context
from gephyr_core.errors import GephyrError
from tests.cli_helpers import cli, cli_json
from tests.relay.harness import MODEL, RelayServer


def _add(label: str = "team-a") -> str:
    acc = cli_json("accounts", "add", "--provider", "openai", "--api-key", "sk-prof-1234", "--label", label)
    return str(acc["id"])


def test_versions_round_trip_through_the_cli(data_dir: Path) -> None:
    acc = _add()
    first = cli_json(
        "accounts", "profile", "bind", "team-a", "-H", "OpenAI-Organization: org-1", "--label", "one"
    )
    assert first["success"] is True
    assert first["profile"]["version"] == 1 and first["profile"]["is_current"] is True
    assert first["profile"]["headers"] == {"OpenAI-Organization": "org-1"}
    second = cli_json("accounts", "profile", "bind", "team-a", "-H", "OpenAI-Project:proj_2")
    assert second["profile"]["version"] == 2 and second["profile"]["label"] is None
    listed = cli_json("accounts", "profile", "versions", acc[:8])
    assert [v["version"] for v in listed["history"]] == [2, 1]
    assert listed["bound_profile"]["version"] == 2
    shown = cli_json("accounts", "show", "team-a")
    assert shown["header_profile"] == {"version": 2, "label": None, "headers": {"OpenAI-Project": "proj_2"}}
    assert shown["device_bound"] is True

    restored = cli_json("accounts", "profile", "restore", "team-a", "1")
    assert restored["version"] == 1 and restored["is_current"] is True
    refused = cli("accounts", "profile", "delete-version", "team-a", "1")
    assert refused.exit_code == 5 and "current" in refused.stderr
    assert cli("accounts", "profile", "delete-version", "team-a", "2").exit_code == 0
    assert cli("accounts", "profile", "restore", "team-a", "2").exit_code == 3
    assert cli("accounts", "profile", "clear", "team-a").exit_code == 0
    after = cli_json("accounts", "profile", "versions", "team-a")
    assert after["bound_profile"] is None and [v["version"] for v in after["history"]] == [1]
    assert cli_json("accounts", "show", "team-a")["header_profile"] is None
    third = cli_json("accounts", "profile", "bind", "team-a", "-H", "x-custom:3")
    assert third["profile"]["version"] == 3  # numbers are never reused

    ctx = open_context(data_dir, {})
    try:
        with ctx.store.reading() as db:
            actions = [r["action"] for r in db.query("SELECT action FROM audit_events ORDER BY id")]
    finally:
        ctx.close()
    assert [a for a in actions if "header_profile" in a] == [
        "accounts.bind_header_profile",
        "accounts.bind_header_profile",
        "accounts.restore_header_profile",
        "accounts.delete_header_profile_version",
        "accounts.clear_header_profile",
        "accounts.bind_header_profile",
    ]


def test_validation_reports_every_problem(data_dir: Path) -> None:
    acc = _add()
    ctx = open_context(data_dir, {})
    op = catalog()["accounts.bind_header_profile"]
    bad = {
        "Authorization": "Bearer x",
        "X-Forwarded-For": "1.2.3.4",
        "sec-fetch-mode": "cors",
        "bad name": "v",
        "x-long": "v" * 1025,
        "x-crlf": "a\r\nInjected: yes",
        "x-number": 5,
    }
    try:
        invoke(ctx, op, {"id": acc, "headers": bad})
    except GephyrError as exc:
        assert exc.code == "validation_failed"
        fields = sorted(p["field"] for p in exc.details)
        assert fields == sorted(f"headers.{k}" for k in bad)
    else:
        raise AssertionError("accepted bad headers")
    too_many = {f"x-h{i}": "v" for i in range(33)}
    try:
        invoke(ctx, op, {"id": acc, "headers": too_many})
    except GephyrError as exc:
        assert exc.code == "validation_failed" and "at most 32" in exc.message
    ctx.close()
    result = cli("accounts", "profile", "bind", "team-a", "-H", "Cookie:a=b", "-H", "host:x")
    assert result.exit_code == 2 and "headers.Cookie" in result.stderr and "headers.host" in result.stderr
    assert cli("accounts", "profile", "bind", "team-a", "-H", "novalue").exit_code == 2
    assert cli("accounts", "profile", "versions", "nobody").exit_code == 3
    assert cli_json("accounts", "profile", "versions", "team-a")["history"] == []


def _call(relay: RelayServer, name: str, **kwargs: Any) -> Any:
    return invoke(relay.ctx, catalog()[name], kwargs).data


def _chat(relay: RelayServer, provider: str) -> None:
    r = httpx.post(
        f"{relay.url}/v1/chat/completions",
        headers={"authorization": f"Bearer {relay.api_key}"},
        json={"model": MODEL[provider], "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 200, r.text


def test_the_emulator_receives_bound_headers_and_clearing_stops_them(relay_server: RelayServer) -> None:
    openai_acc = relay_server.add_account("openai")
    anthropic_acc = relay_server.add_account("anthropic")
    _call(
        relay_server,
        "accounts.bind_header_profile",
        id=openai_acc["id"],
        headers={"OpenAI-Organization": "org-42", "User-Agent": "team-agent/1.0"},
    )
    _call(
        relay_server,
        "accounts.bind_header_profile",
        id=anthropic_acc["id"],
        headers={"anthropic-beta": "beta-b, beta-a", "x-team": "blue"},
    )
    _chat(relay_server, "openai")
    seen = relay_server.emulators["openai"].calls()[-1]
    assert seen.header("openai-organization") == "org-42"
    assert seen.header("user-agent") == "team-agent/1.0"  # the profile replaces Gephyr's own
    assert seen.header("authorization") == f"Bearer {_key('openai')}"

    r = httpx.post(
        f"{relay_server.url}/v1/messages",
        headers={
            "x-api-key": relay_server.api_key,
            "anthropic-version": "2023-06-01",
            "anthropic-beta": "beta-a",
        },
        json={"model": MODEL["anthropic"], "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 200, r.text
    seen = relay_server.emulators["anthropic"].calls()[-1]
    assert seen.header("anthropic-beta") == "beta-a,beta-b"  # merged, de-duplicated
    assert seen.header("x-team") == "blue"

    _call(relay_server, "accounts.clear_header_profile", id=openai_acc["id"])
    _chat(relay_server, "openai")
    seen = relay_server.emulators["openai"].calls()[-1]
    assert seen.header("openai-organization") is None
    assert (seen.header("user-agent") or "").startswith("gephyr/")
    _call(relay_server, "accounts.restore_header_profile", id=openai_acc["id"], version=1)
    _chat(relay_server, "openai")
    assert relay_server.emulators["openai"].calls()[-1].header("openai-organization") == "org-42"


def _key(provider: str) -> str:
    from tests.emulators import openai_api

    assert provider == "openai"
    return openai_api.API_KEY


def test_profile_changes_from_another_process_reach_the_runtime(relay_server: RelayServer) -> None:
    acc = relay_server.add_account("gemini")
    other = open_context(relay_server.ctx.dd.root, {})
    try:
        invoke(
            other,
            catalog()["accounts.bind_header_profile"],
            {"id": acc["id"], "headers": {"x-goog-user-project": "p1"}},
        )
    finally:
        other.close()
    runtime = relay_server.ctx.runtime
    assert runtime is not None
    runtime.poll_once()  # what the watcher does every second
    r = httpx.post(
        f"{relay_server.url}/v1beta/models/{MODEL['gemini']}:generateContent",
        headers={"x-goog-api-key": relay_server.api_key},
        json={"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
    )
    assert r.status_code == 200, r.text
    assert relay_server.emulators["gemini"].calls()[-1].header("x-goog-user-project") == "p1"
    assert json.loads(r.text)["candidates"]
