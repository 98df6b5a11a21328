"""`gephyr tokens`, `gephyr security` and `gephyr server stop|start`: the same --json locally and remote."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import ServerProcess, cli, cli_json, start_server
from tests.test_parity import normalise

VOLATILE = {"token", "token_hint", "expires_at", "created_by", "last_seen", "first_seen_at", "last_seen_at"}


def scrub(data: Any) -> Any:
    """Parity normalisation plus the values that differ by nature (random tokens, actors, times)."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: ("*" if k in VOLATILE and node[k] is not None else walk(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(normalise(data))


def run(prefix: list[str], args: tuple[str, ...], env: dict[str, str]) -> tuple[int, Any, str]:
    result = cli(*prefix, "--json", *args, env=env)
    body = json.loads(result.stdout) if result.stdout.strip() else None
    return result.exit_code, body, result.stderr.strip()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = start_server(tmp_path / "served", "--admin")
    yield srv
    assert srv.stop() == 0


def _key(data_dir: Path) -> str:
    out = cli("config", "get", "auth.api_key", "--reveal", env={"GEPHYR_DATA_DIR": str(data_dir)})
    return out.stdout.strip()


SCRIPT: list[tuple[str, ...]] = [
    ("tokens", "list"),
    ("tokens", "create", "alice", "--expires", "week", "--max-ips", "2", "--curfew", "01:00-02:00"),
    ("tokens", "create", "bob", "--description", "ci"),
    ("tokens", "create", "", "--curfew", "1-2"),
    ("tokens", "create", "carol", "--curfew", "0100"),
    ("tokens", "list"),
    ("tokens", "summary"),
    ("tokens", "update", "uuid-0", "--disable", "--no-curfew", "--clear-description"),
    ("tokens", "renew", "uuid-0", "--expires", "never"),
    ("tokens", "renew", "uuid-0", "--expires", "decade"),
    ("tokens", "ips", "uuid-0"),
    ("tokens", "clear-ips", "uuid-0"),
    ("tokens", "delete", "uuid-0"),
    ("tokens", "delete", "uuid-0"),
    ("tokens", "ips", "no-such-id"),
    ("security", "blacklist", "add", "203.0.113.7/24", "--reason", "abuse"),
    ("security", "blacklist", "add", "203.0.113.0/24"),
    ("security", "blacklist", "add", "2001:DB8::1", "--ttl", "3600"),
    ("security", "blacklist", "add", "300.1.1.1"),
    ("security", "blacklist", "list"),
    ("security", "blacklist", "check", "203.0.113.99"),
    ("security", "blacklist", "check", "198.51.100.1"),
    ("security", "blacklist", "check", "bogus"),
    ("security", "blacklist", "remove", "203.0.113.0/24"),
    ("security", "blacklist", "remove", "203.0.113.0/24"),
    ("security", "blacklist", "clear"),
    ("security", "whitelist", "add", "10.0.0.0/8", "--description", "office"),
    ("security", "whitelist", "check", "10.2.3.4"),
    ("security", "whitelist", "list"),
    ("security", "whitelist", "remove", "10.0.0.0/8"),
    ("security", "whitelist", "clear"),
    ("security", "config", "show"),
    ("security", "config", "set", "--blacklist", "--block-message", "Ask IT."),
    ("security", "config", "set"),
    ("security", "config", "show"),
    ("security", "token-stats", "--hours", "24"),
]


def _ids(script: list[tuple[str, ...]], token_ids: list[str]) -> list[tuple[str, ...]]:
    return [tuple(token_ids[0] if a == "uuid-0" and token_ids else a for a in args) for args in script]


def test_same_json_locally_and_remote(tmp_path: Path, server: ServerProcess) -> None:
    local_env = {"GEPHYR_DATA_DIR": str(tmp_path / "local")}
    remote = ["--remote", server.url, "--admin-key", _key(server.data_dir)]
    remote_env = {"GEPHYR_DATA_DIR": str(tmp_path / "unused")}
    ids: dict[str, list[str]] = {"l": [], "r": []}
    for args in SCRIPT:
        lc, lbody, lerr = run([], _ids([args], ids["l"])[0], local_env)
        rc, rbody, rerr = run(remote, _ids([args], ids["r"])[0], remote_env)
        assert (lc, re.sub(r"[0-9a-f-]{36}", "ID", lerr)) == (rc, re.sub(r"[0-9a-f-]{36}", "ID", rerr)), args
        assert scrub(lbody) == scrub(rbody), args
        if args[:2] == ("tokens", "create") and lc == 0:
            ids["l"].append(lbody["id"])
            ids["r"].append(rbody["id"])
    assert not (tmp_path / "unused").exists()


def test_exit_codes_and_one_time_token(tmp_path: Path) -> None:
    created = cli("tokens", "create", "dave")
    assert created.exit_code == 0 and "token: sk-" in created.stdout and "not shown again" in created.stderr
    value = re.search(r"sk-[0-9a-f]{32}", created.stdout)
    assert value is not None
    listing = cli("--json", "tokens", "list").stdout
    assert value.group(0) not in listing and json.loads(listing)[0]["token_hint"].startswith(
        value.group(0)[:7]
    )
    assert cli("tokens", "create", "x", "--expires", "soon").exit_code == 2
    assert cli("tokens", "delete", "nope").exit_code == 3
    assert cli("security", "blacklist", "add", "1.2.3.4").exit_code == 0
    assert cli("security", "blacklist", "add", "1.2.3.4").exit_code == 5
    assert cli("security", "blacklist", "add", "1.2.3.4/99").exit_code == 2
    stop = cli("server", "stop")
    assert stop.exit_code == 6 and stop.stderr.startswith("error: no server running")
    assert cli("security", "logs", "list").exit_code == 0
    assert cli_json("security", "logs", "clear") == {"deleted": 0}
    assert cli_json("security", "stats")["total_requests"] == 0


def test_server_stop_start_through_the_cli(server: ServerProcess) -> None:
    env = {"GEPHYR_DATA_DIR": str(server.data_dir)}
    assert cli_json("server", "stop", env=env) == {"ok": True, "running": False, "shutting_down": False}
    import httpx

    key = _key(server.data_dir)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        r = client.get("/v1/models", headers={"authorization": f"Bearer {key}"})
        assert r.status_code == 503 and r.json()["error"]["code"] == "service_disabled"
        assert cli_json("server", "status", env=env)["running"] is False
        assert cli_json("server", "start", env=env) == {"ok": True, "running": True}
        assert client.get("/v1/models", headers={"authorization": f"Bearer {key}"}).status_code == 200


def test_stop_shuts_down(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "d", "--admin", env={"ADMIN_STOP_SHUTDOWN": "true"})
    try:
        env = {"GEPHYR_DATA_DIR": str(srv.data_dir)}
        assert cli_json("server", "stop", env=env)["shutting_down"] is True
        assert srv.proc.wait(timeout=20) == 0
        assert not (srv.data_dir / "server.json").exists()
    finally:
        srv.stop()
    restarted = start_server(tmp_path / "d", "--admin")
    try:
        env = {"GEPHYR_DATA_DIR": str(restarted.data_dir)}
        assert cli_json("server", "status", env=env)["running"] is False  # stays stopped across restarts
    finally:
        restarted.stop()
