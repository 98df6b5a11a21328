"""Audit events (observability.md §7): every mutating operation declares its spec action, writes
exactly one row with before/after summaries, logs the same JSON as `[ADMIN_AUDIT]`, never a secret."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest

from gephyr_core.admin import AdminContext, catalog, invoke, open_context
from gephyr_core.store.audit import scrub, secret_name

SPEC_ACTIONS = {
    *(
        f"config.{a}"
        for a in (
            "save update_mapping update_sticky update_request_timeout update_compliance "
            "set_preferred_account rotate_api_key"
        ).split()
    ),
    *(
        f"accounts.{a}"
        for a in (
            "add update delete bulk_delete reorder switch toggle_proxy signout signout_all refresh "
            "health_check models_fetch quota_probe export import bind_header_profile "
            "restore_header_profile delete_header_profile_version clear_header_profile"
        ).split()
    ),
    "oauth.linked",
    *(
        f"pool.{a}"
        for a in "update_strategy update_runtime proxy_add proxy_update proxy_remove bind unbind".split()
    ),
    *(
        f"security.{a}"
        for a in (
            "blacklist_add blacklist_remove blacklist_clear whitelist_add whitelist_remove "
            "whitelist_clear config logs_clear"
        ).split()
    ),
    *(f"user_tokens.{a}" for a in "create update renew delete clear_ips".split()),
    "rate_limits.clear",
    "session_bindings.clear",
    "monitor.toggle",
    "logs.clear",
    "stats.clear",
    "proxy.start",
    "proxy.stop",
    "integrations.sync",
    "integrations.restore",
    "system.clear_log_cache",
    "debug.enable",
    "debug.disable",
    "debug.clear",
    "secrets.reencrypt",
    "admin.lockout",
}
# Audited under their own name: changes the spec's list does not name (docs/decisions.md).
EXTRA_ACTIONS = {"pool.check"}
# POSTs that only read (they take a body), and OAuth flow steps: linking writes `oauth.linked`.
NOT_AUDITED = {
    "integrations.status",
    "integrations.config",
    "integrations.opencode_status",
    "integrations.opencode_config",
    "oauth.prepare",
    "oauth.start",
    "oauth.complete",
    "oauth.cancel",
    "oauth.submit_code",
}

API_KEY = "sk-audit-secret-0123456789abcdef"
NEW_KEY = "sk-audit-rotated-fedcba9876543210"
PASSWORD = "admin-pw-audit-secret-42"
PROXY_PASSWORD = "proxy-pw-audit-secret-77"


def test_every_mutating_operation_declares_a_spec_action() -> None:
    for name, op in catalog().items():
        if op.method == "GET":
            expected = {"accounts.quota": "accounts.quota_probe"}.get(name)
            assert (op.audit.action if op.audit else None) == expected, name
            continue
        if name in NOT_AUDITED:
            assert op.audit is None, f"{name} must not be audited"
            continue
        assert op.audit is not None, f"{name} is not audited"
        assert op.audit.action in SPEC_ACTIONS | EXTRA_ACTIONS, f"{name} audits as {op.audit.action}"
    assert catalog()["accounts.quota"].audit.when({"cached": True}) is False  # type: ignore[union-attr]


def test_secret_names_and_scrub() -> None:
    for name in ("api_key", "refreshToken", "x-api-key", "Authorization", "admin_password", "body", "code"):
        assert secret_name(name), name
    for name in ("api_key_set", "user_token_id", "label", "input_tokens_count", "account_id", "added"):
        assert not secret_name(name), name
    data = {"a": {"api_key": "k1", "n": 3}, "url": "http://u:p@proxy:8080", "api_key_set": True}
    assert scrub(data) == {
        "a": {"api_key": "[redacted]", "n": 3},
        "url": "http://[redacted]@proxy:8080",
        "api_key_set": True,
    }


@pytest.fixture
def ctx() -> Iterator[AdminContext]:
    context = open_context(__import__("pathlib").Path(os.environ["GEPHYR_DATA_DIR"]), os.environ)
    yield context
    context.close()


def _events(ctx: AdminContext) -> list[dict[str, Any]]:
    with ctx.store.reading() as db:
        return [dict(r) for r in db.query("SELECT * FROM audit_events ORDER BY id")]


def _run(
    ctx: AdminContext, caplog: pytest.LogCaptureFixture, name: str, **kwargs: Any
) -> tuple[Any, dict[str, Any]]:
    """Invoke one operation; exactly one new row and one `[ADMIN_AUDIT]` line, which agree."""
    seen = len(_events(ctx))
    caplog.clear()
    data = invoke(ctx, catalog()[name], kwargs).data
    rows = _events(ctx)[seen:]
    lines = [r.getMessage() for r in caplog.records if r.name == "gephyr.audit"]
    assert len(rows) == 1, (name, rows)
    assert len(lines) == 1 and lines[0].startswith("[ADMIN_AUDIT] "), (name, lines)
    logged = json.loads(lines[0].removeprefix("[ADMIN_AUDIT] "))
    row = rows[0]
    stored = {
        **row,
        "before": json.loads(row["before"] or "null"),
        "after": json.loads(row["after"] or "null"),
    }
    assert logged == stored
    return data, stored


def _no_secret(ctx: AdminContext, caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
    dumped = json.dumps(_events(ctx)) + "\n".join(r.getMessage() for r in caplog.records)
    for secret in (API_KEY, NEW_KEY, PASSWORD, PROXY_PASSWORD, *secrets):
        assert secret not in dumped


def test_account_operations_write_one_event_each(ctx: AdminContext, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gephyr.audit")
    acc, ev = _run(ctx, caplog, "accounts.add", provider="openai", api_key=API_KEY, label="one")
    assert ev["action"] == "accounts.add" and ev["after"]["api_key"] == "[redacted]"
    acc_id = acc["id"]
    second, _ = _run(ctx, caplog, "accounts.add", provider="anthropic", api_key=API_KEY + "2", label="two")

    _, ev = _run(ctx, caplog, "accounts.update", id=acc_id, label="renamed", api_key=NEW_KEY)
    assert (ev["target"], ev["before"]["label"], ev["after"]["label"]) == (acc_id, "one", "renamed")
    _, ev = _run(ctx, caplog, "accounts.toggle_proxy", id=acc_id, enable=False, reason="maintenance")
    assert ev["before"]["proxy_disabled"] is False and ev["after"]["proxy_disabled"] is True
    _, ev = _run(ctx, caplog, "accounts.switch", account_id=second["id"])
    assert ev["target"] == second["id"] and ev["after"]["current_account_id"] == second["id"]
    _, ev = _run(ctx, caplog, "accounts.reorder", account_ids=[second["id"], acc_id])
    assert ev["before"]["order"] == [acc_id, second["id"]] and ev["after"]["order"] == [second["id"], acc_id]
    _, ev = _run(ctx, caplog, "accounts.delete", id=acc_id)
    assert ev["before"]["label"] == "renamed" and ev["after"] is None
    assert all(e["actor"] == "local_cli" for e in _events(ctx))
    _no_secret(ctx, caplog)


def test_config_operations_record_before_and_after(
    ctx: AdminContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gephyr.audit")
    acc_id = _run(ctx, caplog, "accounts.add", provider="openai", api_key=API_KEY)[0]["id"]
    _, ev = _run(
        ctx, caplog, "config.save", config={"auth": {"admin_password": PASSWORD}, "server": {"port": 9123}}
    )
    assert ev["action"] == "config.save"
    assert ev["before"]["auth.admin_password_set"] is False and ev["after"]["auth.admin_password_set"] is True
    assert (ev["before"]["server.port"], ev["after"]["server.port"]) == (8045, 9123)
    assert {"mapping_entries", "compliance", "scheduling", "monitor.enabled"} <= set(ev["after"])
    _, ev = _run(ctx, caplog, "mapping.save", set={"gpt-a": "gpt-4o", "gpt-b": "gpt-4o-mini"})
    assert ev["action"] == "config.update_mapping"
    assert ev["before"] == {"count": 0} and ev["after"]["added"] == ["gpt-a", "gpt-b"]
    _, ev = _run(ctx, caplog, "mapping.save", set={"gpt-a": "gpt-4.1"}, remove=["gpt-b"])
    assert ev["after"] == {"count": 1, "added": [], "removed": ["gpt-b"], "updated": ["gpt-a"]}
    _, ev = _run(ctx, caplog, "config.set_request_timeout", request_timeout=300)
    assert ev["action"] == "config.update_request_timeout"
    assert ev["before"] == {"server.request_timeout": 120} and ev["after"] == {"server.request_timeout": 300}
    _, ev = _run(ctx, caplog, "sticky.prefer", account_id=acc_id)
    assert ev["action"] == "config.set_preferred_account"
    assert ev["after"]["routing.preferred_account_id"] == acc_id
    _, ev = _run(ctx, caplog, "monitor.toggle", enabled=False)
    assert ev["before"] == {"monitor.enabled": True} and ev["after"] == {"monitor.enabled": False}
    rotated, ev = _run(ctx, caplog, "config.rotate_api_key")
    assert ev["after"] == {"auth.api_key_set": True}
    _no_secret(ctx, caplog, rotated["api_key"])


def test_pool_security_and_token_operations(ctx: AdminContext, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gephyr.audit")
    acc, _ = _run(ctx, caplog, "accounts.add", provider="openai", api_key=API_KEY, label="one")
    acc_id = acc["id"]
    _, ev = _run(
        ctx,
        caplog,
        "pool.proxy_add",
        body={
            "id": "p1",
            "url": "http://127.0.0.1:3128",
            "auth": {"username": "u", "password": PROXY_PASSWORD},
        },
    )
    assert ev["before"] == {"ids": []} and ev["after"] == {"ids": ["p1"]}
    _, ev = _run(ctx, caplog, "pool.bind", account_id=acc_id, proxy_id="p1")
    assert (ev["before"], ev["after"]) == ({"proxy_id": None}, {"proxy_id": "p1"})
    _, ev = _run(ctx, caplog, "pool.update_strategy", strategy="round_robin")
    assert ev["after"] == {"pool.strategy": "round_robin"}

    _, ev = _run(ctx, caplog, "security.blacklist.add", ip_pattern="10.9.9.9")
    assert ev["action"] == "security.blacklist_add" and ev["target"] == "10.9.9.9"
    assert ev["before"] == {"count": 0, "listed": False} and ev["after"] == {"count": 1, "listed": True}
    _, ev = _run(ctx, caplog, "security.blacklist.remove", ip_pattern="10.9.9.9")
    assert ev["after"] == {"count": 0, "listed": False}

    token, ev = _run(ctx, caplog, "tokens.create", username="alice", expires_type="never")
    assert ev["action"] == "user_tokens.create"
    _, ev = _run(ctx, caplog, "tokens.update", id=token["id"], body={"description": "team"})
    assert ev["action"] == "user_tokens.update" and ev["after"]["username"] == "alice"
    _, ev = _run(ctx, caplog, "tokens.delete", id=token["id"])
    assert ev["before"]["username"] == "alice" and ev["after"] is None

    _no_secret(ctx, caplog, token["token"])


def test_failed_operations_and_reads_write_nothing(ctx: AdminContext) -> None:
    from gephyr_core.errors import GephyrError

    with pytest.raises(GephyrError):
        invoke(ctx, catalog()["accounts.update"], {"id": "missing", "label": "x"})
    with pytest.raises(GephyrError):
        invoke(ctx, catalog()["mapping.save"], {})
    invoke(ctx, catalog()["accounts.list"], {})
    assert _events(ctx) == []


def test_through_the_server_the_actor_and_request_are_recorded(relay_server: Any) -> None:
    import httpx

    rt = relay_server.ctx.runtime or relay_server.app.app.state.runtime
    headers = {"x-gephyr-local-token": rt.local_token, "x-gephyr-actor": "tester"}
    r = httpx.post(f"{relay_server.url}/api/proxy/monitor/toggle", json={"enabled": False}, headers=headers)
    assert r.status_code == 200
    with relay_server.ctx.store.reading() as db:
        rows = [dict(x) for x in db.query("SELECT * FROM audit_events WHERE action = 'monitor.toggle'")]
    assert len(rows) == 1
    assert rows[0]["actor"] == "local_cli:tester" and rows[0]["request_id"] == r.headers["x-request-id"]
    assert rows[0]["client_ip"] == "127.0.0.1"
    assert json.loads(rows[0]["after"]) == {"monitor.enabled": False}
