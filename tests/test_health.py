"""Health check (accounts.md §8): OAuth refresh near expiry, API-key verification, startup run."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gephyr_core.accounts import health
from gephyr_core.accounts.probe import Verifier
from gephyr_core.admin import AdminContext, catalog, invoke, open_context
from gephyr_core.store import accounts as table
from tests.cli_helpers import cli, cli_json, start_server
from tests.emulators import openai_api
from tests.emulators.script import Emulator, Error
from tests.oauth_idp import IdP, User, oauth_idp, oauth_idp_session  # noqa: F401

QUICK = {"startup_health": {"delay_min_seconds": 0, "delay_max_seconds": 0, "refresh_timeout_seconds": 5}}


@pytest.fixture
def ctx(data_dir: Path, oauth_idp: IdP) -> Iterator[AdminContext]:  # noqa: F811
    context = open_context(data_dir, {})
    invoke(context, catalog()["config.save"], {"config": {**oauth_idp.config_patch(), **QUICK}})
    yield context
    context.close()


def call(ctx: AdminContext, name: str, **kwargs: Any) -> Any:
    return invoke(ctx, catalog()[name], kwargs).data


def expire(ctx: AdminContext, account_id: str) -> None:
    with ctx.store.transaction(change=True) as db:
        table.update_account(db, account_id, {"token_expires_at": int(time.time()) + 10})


def by_label(summary: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {a["label"]: (a["status"], a["detail"]) for a in summary["accounts"]}


def test_oauth_accounts(ctx: AdminContext, oauth_idp: IdP) -> None:  # noqa: F811
    fresh = call(ctx, "accounts.add", refresh_token=oauth_idp.grant("ana@example.com"), label="fresh")
    stale = call(ctx, "accounts.add", refresh_token=oauth_idp.grant("bob@other.org"), label="stale")
    expire(ctx, stale["id"])
    before = len(oauth_idp.calls("/token"))
    summary = call(ctx, "accounts.health_check")
    assert (summary["total"], summary["skipped"], summary["refreshed"]) == (2, 1, 1)
    assert by_label(summary) == {"fresh": ("ok", "skipped"), "stale": ("refreshed", "access token refreshed")}
    assert len(oauth_idp.calls("/token")) == before + 1
    row = table.get_account(ctx.store, stale["id"])
    assert row is not None and row["token_expires_at"] > time.time() + 3000
    oauth_idp.revoke_all()
    expire(ctx, fresh["id"])
    summary = call(ctx, "accounts.health_check")
    assert summary["disabled"] == 1 and by_label(summary)["fresh"][0] == "disabled"
    shown = call(ctx, "accounts.show", id=fresh["id"])
    assert shown["disabled"] and shown["disabled_reason"].startswith("invalid_grant: ")
    summary = call(ctx, "accounts.health_check")  # disabled accounts are no longer candidates
    assert summary["skipped"] == 2 and summary["disabled"] == 0


def test_unreachable_token_endpoint(ctx: AdminContext, oauth_idp: IdP) -> None:  # noqa: F811
    acc = call(ctx, "accounts.add", refresh_token=oauth_idp.grant())
    expire(ctx, acc["id"])
    patch = oauth_idp.config_patch()
    next(iter(patch["oauth"]["providers"].values()))["token_endpoint"] = "http://127.0.0.1:9/token"
    invoke(ctx, catalog()["config.save"], {"config": patch})
    summary = call(ctx, "accounts.health_check")
    assert summary["network_errors"] == 1 and by_label(summary)[acc["label"]][0] == "error"
    assert not call(ctx, "accounts.show", id=acc["id"])["disabled"]  # other failures change nothing


def test_api_keys(ctx: AdminContext, openai_emulator: Emulator) -> None:
    base = openai_emulator.url + "/v1"

    def add(key: str, label: str) -> str:
        data = call(ctx, "accounts.add", provider="openai", api_key=key, label=label, base_url=base)
        return str(data["id"])

    good, bad = add(openai_api.API_KEY, "good"), add("sk-nope-0001", "bad")
    refused = add("sk-x-0002", "refused")
    summary = call(ctx, "accounts.health_check")
    assert summary["skipped"] == 3 and openai_emulator.calls("models") == []  # keys only on request
    openai_emulator.api_keys.add("sk-x-0002")
    openai_emulator.push(Error(403, "Project suspended"), route="models")  # the first call: good
    summary = call(ctx, "accounts.health_check", probe_api_keys=True)
    assert (summary["disabled"], summary["forbidden"], summary["skipped"]) == (1, 1, 0)
    assert by_label(summary) == {
        "good": ("forbidden", "upstream_403: Project suspended"),
        "bad": ("disabled", "invalid_api_key"),
        "refused": ("ok", "verified"),
    }
    assert call(ctx, "accounts.show", id=bad)["disabled_reason"] == "invalid_api_key"
    openai_emulator.api_keys.add("sk-nope-0001")
    summary = call(ctx, "accounts.health_check", probe_api_keys=True)  # a passing check clears both
    assert [a["status"] for a in summary["accounts"]] == ["ok", "ok", "ok"]
    assert by_label(summary)["good"] == ("ok", "verified; flags cleared")
    for account in (good, bad, refused):
        shown = call(ctx, "accounts.show", id=account)
        assert not shown["disabled"] and not shown["forbidden"]
    call(ctx, "accounts.update", id=refused, base_url="http://127.0.0.1:9/v1")
    summary = call(ctx, "accounts.health_check", probe_api_keys=True)
    assert summary["network_errors"] == 1 and by_label(summary)["refused"][0] == "error"


def test_sequential_with_pauses(ctx: AdminContext, oauth_idp: IdP) -> None:  # noqa: F811
    invoke(
        ctx,
        catalog()["config.save"],
        {"config": {"startup_health": {"delay_min_seconds": 2, "delay_max_seconds": 5}}},
    )
    oauth_idp.users["cy@example.com"] = User("sub-cy-0003", "cy@example.com", "Cy")
    for email in ("ana@example.com", "bob@other.org", "cy@example.com"):
        expire(ctx, call(ctx, "accounts.add", refresh_token=oauth_idp.grant(email))["id"])
    pauses: list[float] = []
    progress: list[tuple[int, int]] = []
    v = Verifier(ctx.store, ctx.box, ctx.settings)
    summary = health.run(v, sleep=pauses.append, on_progress=lambda n, t: progress.append((n, t)))
    assert summary["refreshed"] == 3 and len(pauses) == 2 and all(2 <= p <= 5 for p in pauses)
    assert progress == [(1, 3), (2, 3), (3, 3)]


def test_cli(ctx: AdminContext, oauth_idp: IdP, openai_emulator: Emulator) -> None:  # noqa: F811
    token = oauth_idp.grant()
    added = cli_json("accounts", "add", "--refresh-token", token, "--label", "linked")
    assert (added["credential_kind"], added["email"]) == ("oauth", "ana@example.com")
    both = cli("accounts", "add", "--provider", "openai", "--api-key", "k", "--refresh-token", token)
    assert both.exit_code == 2 and "exactly one of --api-key or --refresh-token" in both.stderr
    assert cli("accounts", "add", "--provider", "openai").exit_code == 2
    assert cli("accounts", "add", "--api-key", "sk-1").exit_code == 2
    bad = cli("accounts", "add", "--refresh-token", "1//garbage")
    assert bad.exit_code == 4 and "invalid_grant" in bad.stderr
    expire(ctx, added["id"])
    summary = cli_json("accounts", "health-check")
    assert summary["refreshed"] == 1
    human = cli("accounts", "health-check", "--probe-api-keys")
    assert human.exit_code == 0 and "1 account(s): 1 skipped" in human.stdout


def test_startup_health_check(tmp_path: Path, oauth_idp: IdP) -> None:  # noqa: F811
    root = tmp_path / "served"
    ctx = open_context(root, {})
    try:
        invoke(ctx, catalog()["config.save"], {"config": {**oauth_idp.config_patch(), **QUICK}})
        acc = call(ctx, "accounts.add", refresh_token=oauth_idp.grant())
        expire(ctx, acc["id"])
    finally:
        ctx.close()
    srv = start_server(root)
    try:
        deadline = time.monotonic() + 15
        expires = 0
        while time.monotonic() < deadline:
            shown = cli("--json", "accounts", "show", acc["id"], env={"GEPHYR_DATA_DIR": str(root)})
            expires = json.loads(shown.stdout)["token_expiry"]
            if expires > time.time() + 3000:
                break
            time.sleep(0.2)
        assert expires > time.time() + 3000
    finally:
        assert srv.stop() == 0
