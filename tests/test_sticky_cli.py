"""`gephyr sticky` and `gephyr rate-limits`: local and remote, bad input."""

from __future__ import annotations

from pathlib import Path

from tests.cli_helpers import cli, cli_json, start_server


def test_sticky_local(data_dir: Path) -> None:
    assert cli_json("sticky", "show") == {
        "persist_session_bindings": True,
        "scheduling": {"mode": "Balance", "max_wait_seconds": 60},
        "preferred_account_id": None,
    }
    out = cli_json("sticky", "set", "--mode", "cache-first", "--max-wait", "30", "--no-persist")
    assert out["sticky"] == {
        "persist_session_bindings": False,
        "scheduling": {"mode": "CacheFirst", "max_wait_seconds": 30},
    }
    assert out["runtime_apply"]["policy"] == "always_hot_applied"
    before = (data_dir / "config.toml").read_text()
    bad = cli("sticky", "set", "--mode", "fastest")
    assert bad.exit_code == 2 and "unknown scheduling mode" in bad.stderr
    bad = cli("sticky", "set", "--max-wait", "-5")
    assert bad.exit_code == 2 and "scheduling.max_wait_seconds" in bad.stderr
    assert (data_dir / "config.toml").read_text() == before
    assert cli("sticky", "set").exit_code == 2
    acc = cli_json("accounts", "add", "--provider", "openai", "--api-key", "sk-sticky-1234", "--label", "t")
    assert cli_json("sticky", "prefer", "t")["preferred_account_id"] == acc["id"]
    assert cli_json("sticky", "prefer") == {"preferred_account_id": acc["id"]}
    assert cli("sticky", "prefer", "nobody").exit_code == 3
    assert cli_json("sticky", "prefer", "--clear")["preferred_account_id"] is None
    assert cli_json("sticky", "clear") == {"ok": True, "cleared": 0}
    assert cli("sticky", "bindings").exit_code == 6
    assert cli("rate-limits", "list").exit_code == 6


def test_sticky_remote_matches_local(tmp_path: Path) -> None:
    local = {"GEPHYR_DATA_DIR": str(tmp_path / "local")}
    srv = start_server(tmp_path / "served", "--admin")
    try:
        key = cli(
            "config", "get", "auth.api_key", "--reveal", env={"GEPHYR_DATA_DIR": str(srv.data_dir)}
        ).stdout.strip()
        remote = ["--remote", srv.url, "--admin-key", key]
        for args in (
            ("sticky", "show"),
            ("sticky", "set", "--mode", "PerformanceFirst"),
            ("sticky", "prefer"),
            ("sticky", "clear"),
        ):
            assert cli_json(*args, env=local) == cli_json(*remote, *args), args
        assert cli_json(*remote, "rate-limits", "list") == {"records": [], "consecutive_failures": {}}
        assert cli_json(*remote, "rate-limits", "clear") == {"cleared": 0}
        bindings = cli_json(*remote, "sticky", "bindings")
        assert (
            bindings["session_bindings_count"] == 0 and bindings["scheduling"]["mode"] == "PerformanceFirst"
        )
    finally:
        assert srv.stop() == 0
