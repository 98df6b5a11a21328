"""`accounts add --verify` against emulated providers (list-models through the real HTTP stack)."""

from __future__ import annotations

from typing import Any

from tests.cli_helpers import cli, cli_json
from tests.emulators import anthropic_api, gemini_api, openai_api


def test_verify_success_stores_discovered_models(openai_emulator: Any) -> None:
    acc = cli_json(
        "accounts",
        "add",
        "--provider",
        "openai",
        "--api-key",
        openai_api.API_KEY,
        "--base-url",
        f"{openai_emulator.url}/v1",
        "--verify",
    )
    assert acc["discovered_models"] and "warnings" not in acc
    assert all(m.startswith(("gpt-", "o1", "o3", "o4", "chatgpt-")) for m in acc["discovered_models"])
    req = openai_emulator.last_request
    assert req.path == "/v1/models" and req.header("authorization") == f"Bearer {openai_api.API_KEY}"


def test_verify_rejected_key_is_exit_4_and_nothing_saved(anthropic_emulator: Any) -> None:
    result = cli(
        "accounts",
        "add",
        "--provider",
        "anthropic",
        "--api-key",
        "sk-ant-wrong",
        "--base-url",
        anthropic_emulator.url,
        "--verify",
    )
    assert result.exit_code == 4 and "rejected the credential" in result.stderr
    assert cli_json("accounts", "list")["accounts"] == []


def test_verify_gemini_key_header(gemini_emulator: Any) -> None:
    acc = cli_json(
        "accounts",
        "add",
        "--provider",
        "gemini",
        "--api-key",
        gemini_api.API_KEY,
        "--base-url",
        gemini_emulator.url,
        "--verify",
    )
    assert any(m.startswith("gemini-") for m in acc["discovered_models"])
    assert gemini_emulator.last_request.header("x-goog-api-key") == gemini_api.API_KEY


def test_verify_unreachable_stores_with_warning() -> None:
    acc = cli_json(
        "accounts",
        "add",
        "--provider",
        "anthropic",
        "--api-key",
        anthropic_api.API_KEY,
        "--base-url",
        "http://127.0.0.1:9",
        "--verify",
    )
    assert acc["warnings"][0].startswith("verification_failed:")
    assert len(cli_json("accounts", "list")["accounts"]) == 1
