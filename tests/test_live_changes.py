"""A running server picks up changes other processes make to config.toml and the records."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from gephyr_core.admin import catalog, invoke
from gephyr_core.admin.context import open_context
from tests.cli_helpers import cli, start_server


def eventually(check: Callable[[], bool], timeout: float = 8.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def test_config_and_record_changes_apply_without_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    srv = start_server(data_dir, "--admin")
    try:
        key = cli(
            "config", "get", "auth.api_key", "--reveal", env={"GEPHYR_DATA_DIR": str(data_dir)}
        ).stdout.strip()
        url = srv.url + "/api/accounts"
        assert httpx.get(url, headers={"authorization": f"Bearer {key}"}).status_code == 200

        # A direct write to the database by another process (not through the server).
        ctx = open_context(data_dir, {})
        invoke(ctx, catalog()["accounts.add"], {"provider": "openai", "api_key": "sk-direct-4321"})
        ctx.close()
        status_url = srv.url + "/api/proxy/status"
        auth = {"authorization": f"Bearer {key}"}
        assert eventually(lambda: httpx.get(status_url, headers=auth).json()["active_accounts"] == 1)

        # A hand edit of config.toml: a new admin password takes over from the API key.
        path = data_dir / "config.toml"
        path.write_text(path.read_text().replace('admin_password = ""', 'admin_password = "by-hand-pw-1234"'))
        assert eventually(lambda: httpx.get(url, headers=auth).status_code == 401)
        assert httpx.get(url, headers={"authorization": "Bearer by-hand-pw-1234"}).status_code == 200

        # An invalid edit is not applied; the running config stays and the error is reported.
        path.write_text(path.read_text().replace("request_timeout = 120", "request_timeout = 0"))
        pw = {"authorization": "Bearer by-hand-pw-1234"}
        op_url = srv.url + "/api/proxy/operator-status"
        assert eventually(
            lambda: httpx.get(op_url, headers=pw).json()["config"]["lastReloadError"] is not None
        )
        assert httpx.get(url, headers=pw).status_code == 200
    finally:
        assert srv.stop() == 0


def test_second_server_refused_and_stale_server_json_ignored(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    srv = start_server(data_dir)
    try:
        second = subprocess.run(
            [sys.executable, "-m", "gephyr_cli", "--data-dir", str(data_dir), "serve", "--port", "0"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert second.returncode == 1 and "already running" in second.stderr
    finally:
        srv.stop()
    (data_dir / "server.json").write_text(
        json.dumps({"pid": 999999, "base_url": "http://127.0.0.1:1", "local_token": "x"})
    )
    result = cli("--json", "accounts", "list", env={"GEPHYR_DATA_DIR": str(data_dir)})
    assert result.exit_code == 0  # a dead pid means no server: the data dir is used directly
    srv = start_server(data_dir)
    assert json.loads((data_dir / "server.json").read_text())["pid"] == srv.proc.pid
    assert srv.stop() == 0
