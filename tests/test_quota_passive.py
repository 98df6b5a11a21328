"""Passive quota snapshots from relay traffic (accounts.md §9.1) through a running relay."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from gephyr_core.admin import catalog, invoke
from gephyr_core.relay import quota_tap
from gephyr_core.store import accounts as table
from tests.cli_helpers import cli, cli_json
from tests.emulators.script import Error, RateLimits
from tests.relay.harness import RelayServer, ask


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def tap(relay: RelayServer) -> quota_tap.QuotaTap:
    return relay.app.app.state.runtime.quota_tap  # type: ignore[no-any-return]


def stored(relay: RelayServer, account_id: str) -> dict[str, Any]:
    row = table.get_account(relay.ctx.store, account_id)
    assert row is not None
    return row


def entry(snapshot: dict[str, Any] | None, name: str) -> dict[str, Any]:
    assert snapshot is not None
    (found,) = [m for m in snapshot["models"] if m["name"] == name]
    return found


def env(relay: RelayServer) -> dict[str, str]:
    return {"GEPHYR_DATA_DIR": str(relay.ctx.dd.root)}


def test_parse_is_cheap_and_selective() -> None:
    headers = {"content-type": "application/json", "x-request-id": "req_1"}
    assert quota_tap.parse("openai", "gpt-4o", 200, headers, b"") == ([], "")
    limited = {**headers, "X-RateLimit-Limit-Requests": "10", "X-RateLimit-Remaining-Requests": "5"}
    models, source = quota_tap.parse("openai", "gpt-4o-2024-08-06", 200, limited, b"")
    assert source == "headers" and (models[0]["name"], models[0]["percentage"]) == ("gpt-4o", 50)
    assert quota_tap.parse("gemini", "gemini-2.5-flash", 200, limited, b"") == ([], "")
    body = b'{"error": {"code": "insufficient_quota", "message": "no money"}}'
    models, source = quota_tap.parse("openai", "gpt-4o", 429, limited, body)
    assert source == "error_body" and models[0]["percentage"] == 0  # the body wins over the headers


def test_headers_from_traffic_are_stored_without_a_change(relay_server: RelayServer) -> None:
    acc = relay_server.add_account("openai", label="a", models=["gpt-*"])
    emu = relay_server.emulators["openai"]
    emu.rate_limits = RateLimits(
        requests_limit=100, requests_remaining=40, tokens_limit=1000, tokens_remaining=900
    )
    counter = relay_server.ctx.store.change_counter()
    assert tap(relay_server).interval == quota_tap.WRITE_INTERVAL == 30
    assert ask(relay_server, "gpt-4o").status_code == 200
    wait_for(lambda: tap(relay_server).writes == 1)
    cached = cli_json("accounts", "quota", acc["id"], "--cached", env=env(relay_server))
    got = entry(cached, "gpt-4o")
    assert cached["source"] == "headers"
    assert (got["percentage"], got["remaining_requests"], got["limit_requests"]) == (40, 40, 100)
    assert (got["remaining_tokens"], got["limit_tokens"]) == (900, 1000)
    assert relay_server.ctx.store.change_counter() == counter  # a passive snapshot is no admin change
    shown = cli("accounts", "show", acc["id"], env=env(relay_server))
    assert shown.exit_code == 0 and "gpt-4o: 40% left" in shown.stdout


def test_writes_are_throttled_per_account(relay_server: RelayServer) -> None:
    acc = relay_server.add_account("openai", label="a", models=["gpt-*"])
    emu = relay_server.emulators["openai"]
    writer = tap(relay_server)
    writer.interval = 1.5  # the 30 s of production, shortened
    emu.rate_limits = RateLimits(requests_limit=100, requests_remaining=90)
    assert ask(relay_server, "gpt-4o").status_code == 200
    wait_for(lambda: writer.writes == 1)
    for remaining in (80, 70):
        emu.rate_limits = RateLimits(requests_limit=100, requests_remaining=remaining)
        assert ask(relay_server, "gpt-4o").status_code == 200
    runtime = relay_server.app.app.state.runtime
    live = next(a for a in runtime.accounts if a["id"] == acc["id"])
    assert entry(live["quota"], "gpt-4o")["percentage"] == 70  # memory follows every answer
    assert (
        writer.writes == 1 and entry(stored(relay_server, acc["id"])["quota"], "gpt-4o")["percentage"] == 90
    )
    wait_for(lambda: writer.writes == 2)  # one trailing write carries the latest values
    assert entry(stored(relay_server, acc["id"])["quota"], "gpt-4o")["percentage"] == 70
    time.sleep(0.3)
    assert writer.writes == 2


def test_insufficient_quota_triggers_protection(relay_server: RelayServer) -> None:
    relay_server.configure({"quota_protection": {"enabled": True, "threshold_percentage": 10}})
    acc = relay_server.add_account("openai", label="a", models=["gpt-*"])
    emu = relay_server.emulators["openai"]
    emu.push(Error(429, "You exceeded your current quota", code="insufficient_quota"))
    assert ask(relay_server, "gpt-4o", session=None).status_code == 429
    # a 429 is written at once, whatever the throttle says
    wait_for(lambda: stored(relay_server, acc["id"])["protected_models"] == ["gpt-4o"])
    quota = stored(relay_server, acc["id"])["quota"]
    assert quota["source"] == "error_body" and entry(quota, "gpt-4o")["percentage"] == 0
    relay_server.relay.state.reset()  # no rate-limit record keeps it away: only protection does
    before = len(emu.calls())
    refused = ask(relay_server, "gpt-4o", session="s-1")
    assert refused.status_code != 200 and len(emu.calls()) == before
    assert ask(relay_server, "gpt-4o-mini", session="s-2").status_code == 200  # other models are served
    relay_server.configure({"quota_protection": {"enabled": False}})
    assert ask(relay_server, "gpt-4o", session="s-3").status_code == 200


def test_request_count_per_quota_model(relay_server: RelayServer) -> None:
    acc = relay_server.add_account("openai", label="a", models=["gpt-*"])
    runtime = relay_server.app.app.state.runtime
    tap(relay_server).interval = 0.1
    for _ in range(3):
        assert ask(relay_server, "gpt-4o").status_code == 200
    assert ask(relay_server, "gpt-4o-mini").status_code == 200
    wait_for(lambda: len((stored(relay_server, acc["id"])["quota"] or {}).get("models") or []) == 2)
    wait_for(lambda: _usage_rows(relay_server) >= 4)
    # the snapshot is stamped before these rows: push it back so every row counts after it
    with relay_server.ctx.store.transaction() as db:
        row = stored(relay_server, acc["id"])
        table.update_account(db, acc["id"], {"quota": {**row["quota"], "last_updated": 0}})
    shown = invoke(relay_server.ctx, catalog()["accounts.show"], {"id": acc["id"]}).data
    counts = {m["name"]: m["request_count"] for m in shown["quota"]["models"]}
    assert counts == {"gpt-4o": 3, "gpt-4o-mini": 1}
    local = cli_json("accounts", "show", acc["id"], env=env(relay_server))
    assert local["quota"] == shown["quota"]
    with httpx.Client(base_url=relay_server.url) as client:
        remote = client.get(
            f"/api/accounts/{acc['id']}", headers={"x-gephyr-local-token": runtime.local_token}
        )
    assert remote.status_code == 200 and remote.json()["quota"] == shown["quota"]
    with relay_server.ctx.store.transaction() as db:  # rows older than the snapshot do not count
        table.update_account(db, acc["id"], {"quota": {**row["quota"], "last_updated": int(time.time()) + 5}})
    later = invoke(relay_server.ctx, catalog()["accounts.show"], {"id": acc["id"]}).data
    assert [m["request_count"] for m in later["quota"]["models"]] == [0, 0]
    listed = invoke(relay_server.ctx, catalog()["accounts.list"], {}).data["accounts"][0]
    assert all("request_count" not in m for m in listed["quota"]["models"])  # single-account responses only


def _usage_rows(relay: RelayServer) -> int:
    with relay.ctx.store.reading() as db:
        return int(db.execute("SELECT COUNT(*) FROM token_usage").fetchone()[0])


def test_expired_exhaustion_becomes_unknown(relay_server: RelayServer) -> None:
    acc = relay_server.add_account("gemini", label="g")
    past = int(time.time()) - 5
    exhausted = {
        "name": "gemini-2.5-flash",
        "percentage": 0,
        "remaining_requests": 0,
        "limit_requests": 5,
        "remaining_tokens": None,
        "limit_tokens": None,
        "reset_time": past,
    }
    snapshot = {"models": [exhausted], "last_updated": past, "is_forbidden": False, "source": "error_body"}
    with relay_server.ctx.store.transaction(change=True) as db:
        table.update_account(db, acc["id"], {"quota": snapshot})
    relay_server.ctx.records_changed()
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    reply = httpx.post(
        f"{relay_server.url}/v1beta/models/gemini-2.5-flash:generateContent",
        json=body,
        headers={"x-goog-api-key": relay_server.api_key},
        timeout=30,
    )
    assert reply.status_code == 200  # Gemini answers carry no rate-limit headers
    wait_for(lambda: tap(relay_server).writes == 1)
    got = entry(stored(relay_server, acc["id"])["quota"], "gemini-2.5-flash")
    assert (got["percentage"], got["remaining_requests"], got["reset_time"], got["limit_requests"]) == (
        None,
        None,
        None,
        5,
    )
