"""Quota, bulk refresh and health-check commands give the same --json output locally and remotely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.cli_helpers import start_server
from tests.emulators import openai_api
from tests.emulators.script import Emulator, RateLimits
from tests.test_parity import _key, normalise, run

VOLATILE = {"last_updated", "reset_time", "token_expiry"}


def steady(data: Any) -> Any:
    """normalise() plus the snapshot's clock-dependent fields zeroed."""
    if isinstance(data, dict):
        return {k: 0 if k in VOLATILE and isinstance(v, int) else steady(v) for k, v in data.items()}
    if isinstance(data, list):
        return [steady(v) for v in data]
    return data


def _script(base: str) -> list[tuple[str, ...]]:
    return [
        ("config", "set", "scheduler.refresh_stagger_max_ms", "0"),
        ("config", "set", "scheduler.refresh_stagger_min_ms", "0"),
        (
            "accounts",
            "add",
            "--provider",
            "openai",
            "--api-key",
            openai_api.API_KEY,
            "--label",
            "a",
            "--base-url",
            base,
        ),
        (
            "accounts",
            "add",
            "--provider",
            "openai",
            "--api-key",
            "sk-wrong-9999",
            "--label",
            "b",
            "--base-url",
            base,
        ),
        ("accounts", "quota", "a", "--cached"),
        ("accounts", "quota", "a"),
        ("accounts", "quota", "a", "--cached"),
        ("accounts", "refresh"),
        ("accounts", "refresh", "--yes"),
        ("accounts", "quota", "b"),
        ("accounts", "health-check"),
        ("accounts", "health-check", "--probe-api-keys"),
        ("accounts", "quota", "nobody"),
        ("accounts", "show", "a"),
    ]


def test_same_json_locally_and_remote(tmp_path: Path, openai_emulator: Emulator) -> None:
    openai_emulator.rate_limits = RateLimits(requests_remaining=500, tokens_remaining=400_000)
    server = start_server(tmp_path / "served", "--admin")
    try:
        local_env = {"GEPHYR_DATA_DIR": str(tmp_path / "local")}
        remote = ["--remote", server.url, "--admin-key", _key(server.data_dir)]
        remote_env = {"GEPHYR_DATA_DIR": str(tmp_path / "unused")}
        for args in _script(openai_emulator.url + "/v1"):
            lc, lbody, lerr = run([], args, local_env)
            rc, rbody, rerr = run(remote, args, remote_env)
            assert (lc, lerr) == (rc, rerr), args
            assert steady(normalise(lbody)) == steady(normalise(rbody)), args
        assert run([], ("accounts", "refresh"), local_env)[0] == 5
    finally:
        assert server.stop() == 0
