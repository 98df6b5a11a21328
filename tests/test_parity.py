"""Every foundation command gives the same --json output locally and against a live server."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import ServerProcess, cli, start_server

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
TIME_KEYS = {
    "created_at",
    "updated_at",
    "last_used",
    "disabled_at",
    "proxy_disabled_at",
    "exported_at",
    "timestamp",
    "uptime_seconds",
}


def normalise(data: Any) -> Any:
    """Number UUIDs by first appearance, zero timestamps and mask key ids (per data dir)."""
    text = json.dumps(data, sort_keys=True)
    seen: dict[str, str] = {}
    text = UUID.sub(lambda m: seen.setdefault(m.group(0), f"uuid-{len(seen)}"), text)

    def zero(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: (0 if k in TIME_KEYS and isinstance(v, int) else "key-id" if k == "keyId" else zero(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [zero(v) for v in node]
        return node

    return zero(json.loads(text))


def run(prefix: list[str], args: tuple[str, ...], env: dict[str, str]) -> tuple[int, Any, str]:
    result = cli(*prefix, "--json", *args, env=env)
    body = json.loads(result.stdout) if result.stdout.strip() else None
    return result.exit_code, body, result.stderr.strip()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = start_server(tmp_path / "served", "--admin")
    yield srv
    assert srv.stop() == 0
    assert not (srv.data_dir / "server.json").exists()


def _key(data_dir: Path) -> str:
    out = cli("config", "get", "auth.api_key", "--reveal", env={"GEPHYR_DATA_DIR": str(data_dir)})
    return out.stdout.strip()


def _script(export_file: Path) -> list[tuple[str, ...]]:
    return [
        ("accounts", "list"),
        ("accounts", "current"),
        (
            "accounts",
            "add",
            "--provider",
            "openai",
            "--api-key",
            "sk-parity-aaaa1111",
            "--label",
            "a",
            "--models",
            "gpt-*",
        ),
        ("accounts", "add", "--provider", "anthropic", "--api-key", "sk-ant-parity-2222", "--email", "x@y.z"),
        ("accounts", "add", "--provider", "gemini", "--api-key", "AIza-parity-3333"),
        ("accounts", "update", "a", "--label", "alpha", "--probe-model", "gpt-4o-mini"),
        ("accounts", "switch", "x@y.z"),
        ("accounts", "toggle-proxy", "alpha", "--off", "--reason", "quota"),
        ("accounts", "reorder", "x@y.z", "alpha"),
        ("accounts", "show", "alpha"),
        ("accounts", "current"),
        ("accounts", "list"),
        ("config", "set", "server.request_timeout", "200"),
        ("config", "set", "routing.max_attempts", "5"),
        ("config", "set", "server.port", "9000"),
        ("config", "get", "server.request_timeout"),
        ("mapping", "set", "claude-*", "anthropic:claude-sonnet-4-5"),
        ("mapping", "set", "fast", '{"model": "gpt-4o-mini", "provider": "openai"}'),
        ("mapping", "remove", "fast"),
        ("mapping", "list"),
        ("config", "get", "auth.api_key"),
        ("config", "show"),
        ("server", "routes"),
        ("secrets", "status"),
        ("accounts", "export", "-o", str(export_file)),
        ("accounts", "export", "alpha"),
        ("accounts", "signout", "alpha"),
        ("accounts", "show", "nobody"),
        ("accounts", "add", "--provider", "nope", "--api-key", "k"),
        ("config", "set", "server.port", "0"),
        ("accounts", "delete", "x@y.z"),
        ("accounts", "import", str(export_file)),
        ("accounts", "signout", "--all", "--delete"),
        ("accounts", "delete", "--all"),
        ("accounts", "list"),
    ]


def test_same_json_locally_and_remote(tmp_path: Path, server: ServerProcess) -> None:
    local_dir = tmp_path / "local"
    local_env = {"GEPHYR_DATA_DIR": str(local_dir)}
    remote_prefix = ["--remote", server.url, "--admin-key", _key(server.data_dir)]
    remote_env = {"GEPHYR_DATA_DIR": str(tmp_path / "unused")}
    for local_args, remote_args in zip(
        _script(tmp_path / "l.json"), _script(tmp_path / "r.json"), strict=True
    ):
        lc, lbody, lerr = run([], local_args, local_env)
        rc, rbody, rerr = run(remote_prefix, remote_args, remote_env)
        assert (lc, lerr) == (rc, rerr), local_args
        if local_args[:2] == ("accounts", "export") and "-o" in local_args:
            lbody["path"] = rbody["path"] = "file"
        assert normalise(lbody) == normalise(rbody), local_args
    assert not (tmp_path / "unused").exists()  # remote runs never touch a local data dir


def test_local_cli_goes_through_the_running_server(server: ServerProcess) -> None:
    env = {"GEPHYR_DATA_DIR": str(server.data_dir)}
    added = run([], ("accounts", "add", "--provider", "openai", "--api-key", "sk-through-1234"), env)
    assert added[0] == 0
    status = run([], ("server", "status"), env)
    assert status[0] == 0 and status[1]["active_accounts"] == 1 and status[1]["running"] is True
    remote = run(["--remote", server.url, "--admin-key", _key(server.data_dir)], ("accounts", "list"), env)
    assert remote[1] == run([], ("accounts", "list"), env)[1]
    doctor = run([], ("server", "doctor"), env)[1]
    assert doctor["runtimePort"] == server.info["port"] and doctor["runtimeRunning"] is True


def test_wrong_admin_key_and_no_server(server: ServerProcess) -> None:
    result = cli("--remote", server.url, "--admin-key", "wrong", "accounts", "list")
    assert result.exit_code == 4 and "admin credential" in result.stderr
    result = cli("--remote", server.url, "config", "get", "auth.api_key", "--reveal")
    assert result.exit_code == 2
