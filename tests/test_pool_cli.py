"""`gephyr pool`: bad input changes nothing, secrets stay encrypted, local and remote agree."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_helpers import ServerProcess, cli, cli_json, start_server
from tests.test_parity import _key, normalise, run


def _account(env: dict[str, str]) -> str:
    added = cli_json("accounts", "add", "--provider", "openai", "--api-key", "sk-pool-aaaa1111", env=env)
    return str(added["id"])


def test_add_bind_and_errors_change_nothing(tmp_path: Path) -> None:
    env = {"GEPHYR_DATA_DIR": str(tmp_path / "d")}
    account = _account(env)
    added = cli_json(
        "pool",
        "add",
        "127.0.0.1:3128",
        "--id",
        "p1",
        "--max-accounts",
        "1",
        "--username",
        "u",
        "--password",
        "hunter2-secret",
        env=env,
    )
    assert added["url"] == "http://127.0.0.1:3128"
    assert added["auth"] == {"username": "u", "password_set": True}
    config = (tmp_path / "d" / "config.toml").read_text()
    assert "hunter2-secret" not in config and "enc:v1:" in config
    before = config
    cases = [
        (("pool", "add", "ftp://x:1"), 2, "url"),
        (("pool", "add", "http://127.0.0.1:1", "--id", "p1"), 5, "already exists"),
        (("pool", "strategy", "fastest"), 2, "pool.strategy"),
        (("pool", "update", "nope", "--priority", "2"), 3, "nope"),
        (("pool", "set", "--interval", "0"), 2, "health_check_interval"),
    ]
    for args, code, text in cases:
        result = cli(*args, env=env)
        assert result.exit_code == code, (args, result.stderr)
        assert text in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert (tmp_path / "d" / "config.toml").read_text() == before
    assert cli("pool", "bind", "ghost", "p1", env=env).exit_code == 3
    assert cli("pool", "bind", account, "ghost", env=env).exit_code == 3
    assert cli_json("pool", "bind", account, "p1", env=env) == {"ok": True}
    other = str(
        cli_json("accounts", "add", "--provider", "anthropic", "--api-key", "sk-ant-b2", env=env)["id"]
    )
    full = cli("pool", "bind", other, "p1", env=env)
    assert full.exit_code == 5 and "max_accounts" in full.stderr
    assert cli_json("pool", "bindings", env=env) == {account: "p1"}
    assert cli_json("pool", "binding", account, env=env) == "p1"
    shown = cli_json("pool", "show", env=env)
    assert shown["proxies"][0]["bound_accounts"] == [account] and "hunter2" not in json.dumps(shown)
    assert cli_json("pool", "unbind", account, env=env) == {"ok": True, "unbound": True}
    assert cli_json("pool", "unbind", account, env=env) == {"ok": True, "unbound": False}
    cli_json("pool", "bind", account, "p1", env=env)
    assert cli("accounts", "delete", account, env=env).exit_code == 0
    assert cli_json("pool", "bindings", env=env) == {}
    changed = cli_json("pool", "strategy", "least_connections", env=env)
    assert changed["runtime_apply"]["policy"] == "hot_applied_when_safe"
    assert changed["proxy_pool"]["strategy"] == "least_connections"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = start_server(tmp_path / "served", "--admin")
    yield srv
    assert srv.stop() == 0


def _script() -> list[tuple[str, ...]]:
    return [
        ("pool", "show"),
        ("pool", "add", "http://127.0.0.1:9", "--id", "p1", "--tag", "eu", "--priority", "2"),
        ("pool", "add", "socks5://127.0.0.1:9", "--id", "p2", "--max-accounts", "1"),
        ("pool", "add", "nonsense://"),
        ("pool", "update", "p1", "--name", "EU", "--username", "u", "--password", "pw"),
        ("pool", "update", "p1", "--no-auth"),
        ("pool", "strategy", "round_robin"),
        ("pool", "strategy", "bogus"),
        ("pool", "strategy"),
        ("pool", "set", "--enable", "--no-failover", "--interval", "60"),
        ("pool", "set"),
        ("pool", "runtime"),
        ("pool", "list"),
        ("pool", "bind", "ghost", "p1"),
        ("pool", "unbind", "ghost"),
        ("pool", "binding", "ghost"),
        ("pool", "bindings"),
        ("pool", "remove", "p2"),
        ("pool", "remove", "p2"),
        ("pool", "show"),
    ]


def test_same_json_locally_and_remote(tmp_path: Path, server: ServerProcess) -> None:
    local_env = {"GEPHYR_DATA_DIR": str(tmp_path / "local")}
    remote = ["--remote", server.url, "--admin-key", _key(server.data_dir)]
    remote_env = {"GEPHYR_DATA_DIR": str(tmp_path / "unused")}
    for args in _script():
        lc, lbody, lerr = run([], args, local_env)
        rc, rbody, rerr = run(remote, args, remote_env)
        assert (lc, lerr) == (rc, rerr), args
        assert normalise(lbody) == normalise(rbody), args
    for prefix, env in (([], local_env), (remote, remote_env)):  # a dead proxy checks down either way
        code, body, _ = run(prefix, ("pool", "check"), env)
        assert code == 0 and body["success"] is True
        assert [p["is_healthy"] for p in body["proxies"]] == [False]
