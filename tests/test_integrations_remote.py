"""Issue 9 commands against a live server: same --json locally and with --remote; which home is used."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import ServerProcess, cli, start_server
from tests.test_parity import normalise


@pytest.fixture
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    cli_home, server_home = tmp_path / "cli-home", tmp_path / "server-home"
    cli_home.mkdir()
    server_home.mkdir()
    monkeypatch.setenv("HOME", str(cli_home))
    return cli_home, server_home


@pytest.fixture
def server(tmp_path: Path, homes: tuple[Path, Path]) -> Iterator[ServerProcess]:
    srv = start_server(tmp_path / "served", "--admin", env={"HOME": str(homes[1])})
    yield srv
    assert srv.stop() == 0


def _key(data_dir: Path) -> str:
    return cli(
        "config", "get", "auth.api_key", "--reveal", env={"GEPHYR_DATA_DIR": str(data_dir)}
    ).stdout.strip()


def _run(prefix: list[str], args: tuple[str, ...], env: dict[str, str]) -> tuple[int, Any, str]:
    result = cli(*prefix, "--json", *args, env=env)
    return (
        result.exit_code,
        json.loads(result.stdout) if result.stdout.strip() else None,
        result.stderr.strip(),
    )


def _script(config_file: Path) -> list[tuple[str, ...]]:
    return [
        ("accounts", "add", "--provider", "openai", "--api-key", "sk-parity-prof-1", "--label", "p"),
        ("accounts", "profile", "bind", "p", "-H", "OpenAI-Organization:org-1", "--label", "one"),
        ("accounts", "profile", "bind", "p", "-H", "x-b:2"),
        ("accounts", "profile", "versions", "p"),
        ("accounts", "profile", "restore", "p", "1"),
        ("accounts", "profile", "delete-version", "p", "1"),
        ("accounts", "profile", "delete-version", "p", "2"),
        ("accounts", "profile", "bind", "p", "-H", "Cookie:x"),
        ("accounts", "profile", "clear", "p"),
        ("accounts", "profile", "versions", "p"),
        ("server", "outbound-policy"),
        ("config", "request-timeout"),
        ("config", "request-timeout", "90"),
        ("config", "request-timeout", "0"),
        ("config", "apply", str(config_file)),
        ("config", "get", "routing.max_attempts"),
        (
            "integrations",
            "sync",
            "codex",
            "--proxy-url",
            "http://relay.test:1",
            "--api-key",
            "sk-tool-key-9876",
        ),
        ("integrations", "status", "codex", "--proxy-url", "http://relay.test:1"),
        ("integrations", "show", "codex", "--file", "auth.json"),
        ("integrations", "status", "opencode", "--proxy-url", "http://relay.test:1"),
        ("integrations", "restore", "codex"),
        ("integrations", "restore", "codex"),
        ("integrations", "show", "claude-code", "--file", "x.json"),
        ("system", "clear-logs"),
    ]


def test_same_json_locally_and_remote(
    tmp_path: Path, server: ServerProcess, homes: tuple[Path, Path]
) -> None:
    config_file = tmp_path / "patch.toml"
    config_file.write_text("[routing]\nmax_attempts = 4\n")
    local_env = {"GEPHYR_DATA_DIR": str(tmp_path / "local")}
    remote_prefix = ["--remote", server.url, "--admin-key", _key(server.data_dir)]
    remote_env = {"GEPHYR_DATA_DIR": str(tmp_path / "unused")}
    for args in _script(config_file):
        lc, lbody, lerr = _run([], args, local_env)
        rc, rbody, rerr = _run(remote_prefix, args, remote_env)
        lerr, rerr = lerr.replace(str(homes[0]), "~"), rerr.replace(str(homes[1]), "~")
        assert (lc, lerr) == (rc, rerr), args
        local = json.loads(json.dumps(lbody).replace(str(homes[0]), "~"))
        remote = json.loads(json.dumps(rbody).replace(str(homes[1]), "~"))
        assert normalise(local) == normalise(remote), args
    assert not (tmp_path / "unused").exists()


def test_remote_uses_the_servers_home_and_local_the_cli_users(
    server: ServerProcess, homes: tuple[Path, Path]
) -> None:
    cli_home, server_home = homes
    remote = ["--remote", server.url, "--admin-key", _key(server.data_dir)]
    code, body, _ = _run(remote, ("integrations", "sync", "gemini-cli"), {})
    assert code == 0 and body["files"][0].startswith(str(server_home))
    env_text = (server_home / ".gemini/.env").read_text()
    assert f"GOOGLE_GEMINI_BASE_URL={server.url}\n" in env_text  # the server's own URL by default
    assert not (cli_home / ".gemini").exists()

    beside = {"GEPHYR_DATA_DIR": str(server.data_dir)}  # a live server on the data dir
    code, body, _ = _run([], ("integrations", "sync", "gemini-cli"), beside)
    assert code == 0 and body["files"][0].startswith(str(cli_home))
    assert (
        f"GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:{server.info['port']}\n"
        in (cli_home / ".gemini/.env").read_text()
    )
    code, status, _ = _run([], ("integrations", "status", "gemini-cli"), beside)
    assert status["is_synced"] is True
    code, audit, _ = _run([], ("server", "routes"), beside)
    paths = {o["path"] for o in audit["operations"]}
    assert {"/api/proxy/cli/sync", "/api/proxy/opencode/config", "/api/proxy/outbound-policy"} <= paths
    assert "GET /api/proxy/google/outbound-policy" in audit["routes"]
    assert "GET /api/accounts/{id}/device-profiles" in audit["routes"]


def test_debug_console_and_system_remote(server: ServerProcess) -> None:
    remote = ["--remote", server.url, "--admin-key", _key(server.data_dir)]
    assert _run(remote, ("debug", "status"), {})[1] is False
    assert _run(remote, ("debug", "enable"), {})[1] == {"ok": True, "enabled": True}
    assert _run(remote, ("debug", "status"), {})[1] is True
    code, events, _ = _run(remote, ("debug", "logs", "--level", "info"), {})
    assert code == 0 and isinstance(events, list)
    assert _run(remote, ("debug", "logs", "--level", "loud"), {})[0] == 2
    assert _run(remote, ("debug", "clear"), {})[1]["ok"] is True
    assert _run(remote, ("debug", "disable"), {})[1] == {"ok": True, "enabled": False}
    assert _run(remote, ("system", "data-dir"), {})[1] == str(server.data_dir.resolve())
