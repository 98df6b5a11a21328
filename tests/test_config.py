"""config.toml: template, comments kept, overlays, validation, parse errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from gephyr_core.admin.context import open_context
from gephyr_core.config import build_settings
from gephyr_core.config.validate import validate
from tests.cli_helpers import cli, cli_json


def test_first_use_writes_commented_template_with_generated_key(data_dir: Path) -> None:
    assert cli("config", "show").exit_code == 0
    text = (data_dir / "config.toml").read_text()
    assert "# The relay API key clients present." in text
    key = cli("config", "get", "auth.api_key", "--reveal").stdout.strip()
    assert key.startswith("sk-") and len(key) == 35
    assert f'api_key = "{key}"' in text
    assert stat.S_IMODE(os.stat(data_dir / "config.toml").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700


def test_set_keeps_comments_and_order(data_dir: Path) -> None:
    cli("config", "show")
    path = data_dir / "config.toml"
    path.write_text(path.read_text().replace("[server]", "[server]\n# my own note\n", 1))
    result = cli("config", "set", "server.request_timeout", "300")
    assert result.exit_code == 0, result.stderr
    text = path.read_text()
    assert "# my own note" in text
    assert "request_timeout = 300" in text
    assert text.index("[server]") < text.index("[auth]")
    assert cli_json("config", "get", "server.request_timeout") == {
        "key": "server.request_timeout",
        "value": 300,
    }


def test_show_redacts_secrets(data_dir: Path) -> None:
    assert cli("config", "set", "auth.admin_password", "hunter2-hunter2").exit_code == 0
    shown = cli("config", "show").stdout + cli("--json", "config", "show").stdout
    key = cli("config", "get", "auth.api_key", "--reveal").stdout.strip()
    assert "hunter2" not in shown and key not in shown
    assert "__redacted__" in shown
    raw = (data_dir / "config.toml").read_text()
    assert "hunter2" not in raw and 'admin_password = "enc:v1:' in raw
    assert cli("config", "get", "auth.admin_password", "--reveal").stdout.strip() == "hunter2-hunter2"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("server.port", "70000", "server.port: must be between 1 and 65535"),
        ("server.port", "abc", "server.port"),
        ("auth.mode", "open", "auth.mode: must be one of"),
        ("providers.openai.base_url", "ftp://x", "providers.openai.base_url"),
        ("cors.allowed_origins", '["http://x/path"]', "cors.allowed_origins[0]"),
    ],
)
def test_set_refuses_invalid_values_and_keeps_file(
    data_dir: Path, key: str, value: str, message: str
) -> None:
    cli("config", "show")
    before = (data_dir / "config.toml").read_bytes()
    result = cli("config", "set", key, value)
    assert result.exit_code == 2
    assert message in result.stderr
    assert (data_dir / "config.toml").read_bytes() == before


def test_syntax_error_is_one_line_with_file_and_line(data_dir: Path) -> None:
    cli("config", "show")
    path = data_dir / "config.toml"
    path.write_text(path.read_text() + "\n[broken\nx = 1\n")
    result = cli("config", "show")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    line_no = len(path.read_text().splitlines()) - 1
    assert lines[0].startswith(f"error: {path}:{line_no}:")
    assert cli("config", "path").stdout.strip() == str(path)
    assert cli("accounts", "list").exit_code == 0  # records do not need the config


def test_validate_reports_every_problem(data_dir: Path) -> None:
    cli("config", "show")
    path = data_dir / "config.toml"
    text = path.read_text().replace("port = 8045", "port = 0").replace('mode = "Balance"', 'mode = "Fast"')
    path.write_text(text)
    result = cli("config", "validate")
    assert result.exit_code == 2
    assert "server.port: must be between 1 and 65535" in result.stderr
    assert "scheduling.mode" in result.stderr


def test_env_overlays_order_and_never_written(data_dir: Path) -> None:
    env = {
        "GEPHYR_API_KEY": "sk-from-gephyr-env",
        "ABV_API_KEY": "sk-abv",
        "API_KEY": "sk-plain",
        "ABV_PORT": "9999",
        "MAX_BODY_SIZE": "2048",
        "ENABLE_ADMIN_API": "yes",
        "AUTH_MODE": "auto",
        "ALLOW_LAN_ACCESS": "maybe",
    }
    s = build_settings({}, env)
    assert s.get("auth.api_key") == "sk-from-gephyr-env"
    assert s.get("server.port") == 9999
    assert s.get("server.max_body_size") == 2048
    assert s.get("admin.enabled") is True
    assert s.get("auth.mode") == "strict"
    assert s.get("server.allow_lan_access") is False
    assert any("ALLOW_LAN_ACCESS" in w for w in s.warnings)
    ctx = open_context(data_dir, env)
    ctx.config.update(lambda doc: doc["server"].__setitem__("request_timeout", 30))
    assert "sk-from-gephyr-env" not in (data_dir / "config.toml").read_text()
    assert "9999" not in (data_dir / "config.toml").read_text()
    ctx.close()


def test_auth_off_is_coerced_to_strict_with_lan() -> None:
    s = build_settings({"auth": {"mode": "off"}, "server": {"allow_lan_access": True}}, {})
    assert s.get("auth.mode") == "strict"


def test_admin_with_lan_needs_password() -> None:
    s = build_settings(
        {"admin": {"enabled": True}, "server": {"allow_lan_access": True}}, {"API_KEY": "sk-x" * 5}
    )
    problems, _ = validate(s.data)
    assert [p["field"] for p in problems] == ["admin.enabled"]


def test_unknown_keys_are_warnings(data_dir: Path) -> None:
    s = build_settings({"server": {"colour": "blue"}, "auth": {"api_key": "sk-" + "a" * 32}}, {})
    problems, warnings = validate(s.data)
    assert problems == [] and "unknown key server.colour" in warnings
