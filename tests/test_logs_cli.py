"""Request logs, token statistics and audit events through the CLI: filters, paging, bad input,
retention with injected timestamps, and identical --json output locally and remotely."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from gephyr_core.admin.context import open_context
from gephyr_core.monitor.record import Record, to_rows
from gephyr_core.store import logs as table
from gephyr_core.store.db import Store
from gephyr_core.wire import Usage
from tests.cli_helpers import cli, cli_json, start_server

NOW = time.time()
ACCOUNTS = {
    "a1": {"id": "a1", "email": "a@x.test", "provider": "openai"},
    "a2": {"id": "a2", "label": "bee", "provider": "anthropic"},
}


def _record(status: int, account: str, model: str, tokens: tuple[int, int], age: float = 60) -> Record:
    trace = {"model": model, "attempts": [{"account_id": account, "step": "p2c", "status": status}]}
    state = {"request_id": f"req-{status}-{account}-{age}", "client_ip": "127.0.0.1", "model": model}
    body = b'{"error": {"message": "upstream said no"}}' if status >= 400 else b""
    return Record(
        NOW - age,
        "POST",
        "/v1/chat/completions",
        "key=s3cret&x=1",
        state,
        status=status,
        trace=trace,
        usage=Usage(tokens[0], 0, 0, tokens[1]),
        error_body=body,
    )


def _seed(store: Store, records: list[Record]) -> None:
    rows = [to_rows(r, ACCOUNTS) for r in records]
    with store.transaction() as db:
        table.write_batch(db, [r for r, _ in rows if r], [u for _, u in rows if u])


@pytest.fixture
def seeded(tmp_path: Path) -> dict[str, str]:
    data = tmp_path / "data"
    ctx = open_context(data, {})
    _seed(
        ctx.store,
        [
            _record(200, "a1", "gpt-4o", (10, 5)),
            _record(200, "a2", "claude-x", (7, 3), age=7200),
            _record(429, "a1", "gpt-4o", (0, 0), age=30),
        ],
    )
    ctx.close()
    return {"GEPHYR_DATA_DIR": str(data)}


def test_list_filters_paging_show_and_clear(seeded: dict[str, str]) -> None:
    rows = cli_json("logs", "list", env=seeded)
    assert [r["status"] for r in rows] == [429, 200, 200]  # newest first
    assert rows[0]["url"] == "/v1/chat/completions?key=[redacted]&x=1"
    assert rows[0]["error"] == "upstream said no" and "trace" not in rows[0]
    assert rows[1]["account_email"] == "a@x.test" and rows[2]["account_email"] == "bee"
    assert cli_json("logs", "count", "--errors", env=seeded) == 1
    assert cli_json("logs", "count", "--filter", "CLAUDE", env=seeded) == 1
    assert cli_json("logs", "count", "--filter", "gpt", "--errors", env=seeded) == 1
    page = cli_json("logs", "list", "--limit", "1", "--offset", "1", env=seeded)
    assert [r["id"] for r in page] == [rows[1]["id"]]
    full = cli_json("logs", "show", rows[0]["id"], env=seeded)
    assert json.loads(full["trace"])["attempts"][0]["account_id"] == "a1"
    explained = cli_json("logs", "explain", full["request_id"], env=seeded)
    assert explained["id"] == full["id"] and explained["trace"]["model"] == "gpt-4o"
    assert cli_json("stats", "requests", env=seeded) == {
        "total_requests": 3,
        "success_count": 2,
        "error_count": 1,
    }
    assert cli_json("logs", "clear", env=seeded) == {"deleted": 3}
    assert cli_json("logs", "count", env=seeded) == 0


def test_bad_input_and_unknown_ids(seeded: dict[str, str]) -> None:
    for args in (
        ("logs", "list", "--limit", "-1"),
        ("logs", "list", "--offset", "-3"),
        ("logs", "list", "--limit", "5000"),
        ("stats", "hourly", "--hours", "0"),
        ("stats", "daily", "--days", "400"),
        ("audit", "list", "--limit", "0"),
    ):
        result = cli(*args, env=seeded)
        assert result.exit_code == 2, (args, result.stderr)
        assert result.stderr.count("\n") == 1
    for args in (("logs", "show", "nope"), ("logs", "explain", "nope")):
        assert cli(*args, env=seeded).exit_code == 3


def test_stats_sums_equal_log_sums(seeded: dict[str, str]) -> None:
    logs = cli_json("logs", "list", env=seeded)
    summary = cli_json("stats", "summary", env=seeded)
    assert summary["total_input_tokens"] == sum(r["input_tokens"] for r in logs) == 17
    assert summary["total_output_tokens"] == sum(r["output_tokens"] for r in logs) == 8
    assert summary["total_requests"] == 2 and summary["unique_accounts"] == 2  # the 429 used no tokens
    hourly = cli_json("stats", "hourly", env=seeded)
    assert sum(p["total_tokens"] for p in hourly) == 25
    assert [p["period"] for p in hourly] == sorted(p["period"] for p in hourly)
    assert sum(p["request_count"] for p in cli_json("stats", "weekly", env=seeded)) == 2
    by_model = cli_json("stats", "by-model", env=seeded)
    assert [(m["model"], m["total_tokens"]) for m in by_model] == [("gpt-4o", 15), ("claude-x", 10)]
    by_account = cli_json("stats", "by-account", env=seeded)
    assert {a["account_email"] for a in by_account} == {"a@x.test", "bee"}
    trend = cli_json("stats", "model-trend", "--daily", env=seeded)
    assert sum(sum(p["model_data"].values()) for p in trend) == 25
    assert cli_json("stats", "clear", env=seeded) == {"ok": True}
    assert cli_json("stats", "summary", env=seeded)["total_tokens"] == 0


def test_retention_deletes_exactly_the_rows_past_the_limit(tmp_path: Path) -> None:
    ctx = open_context(tmp_path / "data", {})
    day = 86400
    _seed(
        ctx.store,
        [_record(200, "a1", "m", (1, 1), age=31 * day), _record(200, "a1", "m", (1, 1), age=29 * day)],
    )
    limits = [("request_logs", "timestamp", 30.0), ("token_usage", "timestamp", 30.0)]
    assert table.apply_retention(ctx.store, limits, NOW) == 2
    with ctx.store.reading() as db:
        ages = [round((NOW - r["timestamp"]) / day) for r in db.query("SELECT timestamp FROM request_logs")]
        assert ages == [29]
        assert db.execute("SELECT count(*) FROM token_usage").fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM token_usage_hourly").fetchone()[0] == 2  # rollups stay
    ctx.close()


def test_toggle_and_audit_list(seeded: dict[str, str]) -> None:
    assert cli_json("logs", "toggle", "--off", env=seeded)["enabled"] is False
    assert cli_json("config", "get", "monitor.enabled", env=seeded)["value"] is False
    assert cli("logs", "toggle", env=seeded).exit_code == 2  # --on or --off is required
    ctx = open_context(Path(seeded["GEPHYR_DATA_DIR"]), {})
    with ctx.store.transaction() as db:
        db.table("audit_events").insert_all(
            [
                {"timestamp": int(NOW) - 5, "actor": "local_cli", "action": "accounts.add", "target": "a1"},
                {"timestamp": int(NOW), "actor": "local_cli", "action": "config.save", "target": None},
            ]
        )
    ctx.close()
    actions = [e["action"] for e in cli_json("audit", "list", env=seeded)]
    assert actions.index("config.save") < actions.index("accounts.add")  # newest first
    assert "monitor.toggle" in actions  # the toggle itself was audited
    assert [e["action"] for e in cli_json("audit", "list", "--action", "accounts.", env=seeded)] == [
        "accounts.add"
    ]
    assert cli_json("audit", "list", "--action", "accounts", env=seeded) == []


def test_same_json_locally_and_remote(seeded: dict[str, str], tmp_path: Path) -> None:
    server = start_server(Path(seeded["GEPHYR_DATA_DIR"]), "--admin")
    try:
        key = cli("config", "get", "auth.api_key", "--reveal", env=seeded).stdout.strip().strip('"')
        remote = ["--remote", server.url, "--admin-key", key]
        first = cli_json("logs", "list", env=seeded)[0]["id"]
        commands: list[tuple[str, ...]] = [
            ("logs", "list"),
            ("logs", "count", "--errors"),
            ("logs", "show", first),
            ("logs", "explain", first),
            ("logs", "tail", "-n", "2"),
            ("stats", "summary"),
            ("stats", "by-model"),
            ("stats", "daily"),
            ("stats", "requests"),
        ]
        for args in commands:
            local: Any = cli("--json", *args, env=seeded)
            far: Any = cli("--json", *remote, *args, env=seeded)
            assert (local.exit_code, local.stdout) == (far.exit_code, far.stdout), args
        assert cli(*remote, "logs", "show", "missing", env=seeded).exit_code == 3
        assert cli(*remote, "logs", "list", "--limit", "0", env=seeded).exit_code == 2
    finally:
        server.stop()
