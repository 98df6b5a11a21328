"""OAuth through a real `gephyr serve`: web flow with /auth/callback, manual code, cancel, CLI login."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gephyr_core.admin import catalog, invoke, open_context
from tests.cli_helpers import ServerProcess, cli, cli_json, start_server
from tests.oauth_idp import IdP, browse, oauth_idp, oauth_idp_session  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def served(data_dir: Path, oauth_idp: IdP) -> Iterator[ServerProcess]:  # noqa: F811
    ctx = open_context(data_dir, {})
    invoke(ctx, catalog()["config.save"], {"config": oauth_idp.config_patch()})
    ctx.close()
    srv = start_server(data_dir, "--admin")
    yield srv
    assert srv.stop() == 0


def _key(data_dir: Path) -> str:
    return cli("config", "get", "auth.api_key", "--reveal").stdout.strip()


def _status() -> dict[str, Any]:
    return dict(cli_json("oauth", "status"))


def _wait_terminal(timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = _status()
        if status["phase"] in {"linked", "rejected", "failed", "cancelled"}:
            return status
        time.sleep(0.1)
    raise AssertionError("flow did not end")


def _spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gephyr_cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return proc.returncode, out, err


def test_remote_login_uses_the_web_flow(served: ServerProcess, data_dir: Path) -> None:
    remote = ("--remote", served.url, "--admin-key", _key(data_dir))
    proc = _spawn(*remote, "--json", "oauth", "login", "--no-browser")
    assert proc.stdout is not None
    url = json.loads(proc.stdout.readline())["url"]
    assert f"localhost%3A{served.info['port']}%2Fauth%2Fcallback" in url
    assert browse(url) == 200
    code, out, err = _finish(proc)
    assert code == 0, err
    account = json.loads(out.strip().splitlines()[-1])
    assert account["email"] == "ana@example.com" and account["credential_kind"] == "oauth"
    status = _status()
    events = [e["phase"] for e in status["recent_events"]]
    assert events == [
        "prepared",
        "callback_received",
        "exchanging_token",
        "fetching_user_info",
        "saving_account",
        "linked",
    ]
    assert status["counters"]["linked_total"] == 1 and status["flow"] is None
    listed = cli_json("accounts", "list")["accounts"]
    assert [a["email"] for a in listed] == ["ana@example.com"]


def test_manual_code_submission(served: ServerProcess, oauth_idp: IdP) -> None:  # noqa: F811
    started = cli_json("oauth", "url")
    with httpx.Client(trust_env=False) as client:
        location = client.get(started["url"]).headers["location"]
    assert cli_json("oauth", "submit-code", location) == {"ok": True}
    status = _wait_terminal()
    assert status["phase"] == "linked" and status["account_email"] == "ana@example.com"


def test_submit_code_bad_input(served: ServerProcess) -> None:
    none = cli("oauth", "submit-code", "abc", "--state", "x")
    assert none.exit_code == 1 and "no sign-in is in progress" in none.stderr
    started = cli_json("oauth", "url")
    missing = cli("oauth", "submit-code", "garbage")
    assert missing.exit_code == 1 and "no state" in missing.stderr
    assert _status()["detail"] == "oauth_state_missing" and _status()["flow"] is None
    started = cli_json("oauth", "url")
    assert cli_json("oauth", "submit-code", "garbage", "--state", started["state"]) == {"ok": True}
    status = _wait_terminal()
    assert status["phase"] == "failed" and status["detail"].startswith("oauth_exchange_failed: invalid_grant")
    counters = status["counters"]["failed_by_code"]
    assert counters == {"oauth.flow_not_active": 1, "oauth.state_missing": 1, "oauth.exchange_failed": 1}
    assert cli_json("accounts", "list")["accounts"] == []


def test_cancel_and_callback_pages(served: ServerProcess) -> None:
    assert cli_json("oauth", "cancel") == {"ok": True, "cancelled": False}
    cli_json("oauth", "url")
    assert cli_json("oauth", "cancel") == {"ok": True, "cancelled": True}
    status = _status()
    assert (status["phase"], status["detail"]) == ("cancelled", "oauth_flow_cancelled")
    with httpx.Client(trust_env=False) as client:
        page = client.get(f"{served.url}/auth/callback", params={"code": "c", "state": "s"})
        assert page.status_code == 200 and "Authorization failed" in page.text
        assert page.headers["cache-control"] == "no-store"
        started = cli_json("oauth", "url")
        evil = {"error": "server_error", "error_description": "<script>x</script>", "state": started["state"]}
        page = client.get(f"{served.url}/auth/callback", params=evil)
        assert "&lt;script&gt;" in page.text and "<script>" not in page.text
        malformed = client.get(f"{served.url}/auth/callback?%zz=%%&state")
        assert malformed.status_code == 200 and "Authorization failed" in malformed.text
    assert _status()["counters"]["cancelled_total"] == 1


def test_cli_login_runs_in_the_cli_process(served: ServerProcess) -> None:
    proc = _spawn("--json", "oauth", "login", "--no-browser")
    assert proc.stdout is not None
    url = json.loads(proc.stdout.readline())["url"]
    assert f"%3A{served.info['port']}%2F" not in url  # the CLI's own loopback listener
    assert browse(url) == 200
    code, out, err = _finish(proc)
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["email"] == "ana@example.com"
    assert [a["email"] for a in cli_json("accounts", "list")["accounts"]] == ["ana@example.com"]
    assert _status()["counters"]["prepared_total"] == 0  # the server ran no flow


def test_cli_login_opens_the_browser(data_dir: Path, oauth_idp: IdP) -> None:  # noqa: F811
    ctx = open_context(data_dir, {})
    invoke(ctx, catalog()["config.save"], {"config": oauth_idp.config_patch()})
    ctx.close()
    proc = _spawn("--json", "oauth", "login", env={"BROWSER": f"{sys.executable} -m tests.oauth_idp %s"})
    code, out, err = _finish(proc)
    assert code == 0, err
    assert json.loads(out)["email"] == "ana@example.com"


def test_cli_login_failure_is_one_line(data_dir: Path, oauth_idp: IdP) -> None:  # noqa: F811
    ctx = open_context(data_dir, {})
    invoke(ctx, catalog()["config.save"], {"config": oauth_idp.config_patch()})
    ctx.close()
    oauth_idp.consent = "deny"
    proc = _spawn("oauth", "login", "--no-browser")
    assert proc.stderr is not None
    proc.stderr.readline()
    url = proc.stderr.readline().strip()
    browse(url)
    code, _out, err = _finish(proc)
    assert code == 1 and err.strip() == "error: access was denied at the identity provider"


def test_same_json_through_the_local_server_and_remote(served: ServerProcess, data_dir: Path) -> None:
    remote = ["--remote", served.url, "--admin-key", _key(data_dir)]
    script = [("oauth", "cancel"), ("oauth", "submit-code", "abc", "--state", "s"), ("oauth", "status")]
    for args in script:
        local = cli("--json", *args)
        far = cli(*remote, "--json", *args)
        assert (local.exit_code, local.stderr) == (far.exit_code, far.stderr), args
        if local.stdout.strip():
            mine, theirs = json.loads(local.stdout), json.loads(far.stdout)
            if args[1] == "status":
                for doc in (mine, theirs):
                    doc["updated_at_unix"] = 0
                    doc["recent_events"] = [e["detail"] for e in doc["recent_events"]]
                    doc["counters"]["failed_total"] = 0
                    doc["counters"]["failed_by_code"] = {}
            assert mine == theirs, args
