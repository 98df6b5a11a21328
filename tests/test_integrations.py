"""Client tool sync (integrations.md §1) on a temporary home: sync, status, show, restore."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import tomlkit

from tests.cli_helpers import cli, cli_json

URL = "http://127.0.0.1:9911"
KEY = "sk-relay-test-0123456789abcdef"

ORIGINALS: dict[str, dict[str, str]] = {
    "claude-code": {
        ".claude/settings.json": '{\n  "model": "opus",\n  "env": {"ANTHROPIC_MODEL": "m", "FOO": "1"}\n}',
        ".claude.json": '{"numStartups": 3}\n',
    },
    "codex": {
        ".codex/config.toml": '# my codex\nmodel = "o3"  # fast\n\n[profiles.deep]\nmodel = "gpt-5"\n',
        ".codex/auth.json": '{"OPENAI_API_KEY": "sk-original-openai-key", "tokens": null}\n',
    },
    "gemini-cli": {
        ".gemini/.env": "# gemini\nGEMINI_API_KEY=AIza-original\nOTHER=1\n",
        ".gemini/settings.json": '{"theme": "dark"}\n',
    },
    "opencode": {
        ".config/opencode/opencode.json": '{"provider": {"openai": {"models": {"gpt-5": {}}}}, "theme": "x"}',
    },
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary HOME, and a PATH holding only a fake `codex` that prints its version."""
    root = tmp_path / "home"
    root.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "codex"
    exe.write_text("#!/bin/sh\necho 'codex-cli 0.42.1'\n")
    exe.chmod(0o755)
    monkeypatch.setenv("HOME", str(root))
    monkeypatch.setenv("PATH", str(bin_dir))
    return root


def _write_originals(home: Path, tool: str) -> dict[str, tuple[bytes, int]]:
    saved = {}
    for rel, text in ORIGINALS[tool].items():
        path = home / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o644)
        saved[rel] = (text.encode(), 0o644)
    return saved


def _check_written(home: Path, tool: str) -> None:
    if tool == "claude-code":
        settings = json.loads((home / ".claude/settings.json").read_text())
        assert settings["env"] == {"FOO": "1", "ANTHROPIC_BASE_URL": URL, "ANTHROPIC_API_KEY": KEY}
        assert settings["model"] == "opus"
        assert json.loads((home / ".claude.json").read_text()) == {
            "numStartups": 3,
            "hasCompletedOnboarding": True,
        }
    elif tool == "codex":
        text = (home / ".codex/config.toml").read_text()
        assert "# my codex" in text and "# fast" in text
        doc = tomlkit.parse(text).unwrap()
        assert doc["model_provider"] == "gephyr" and doc["profiles"] == {"deep": {"model": "gpt-5"}}
        assert doc["model_providers"]["gephyr"] == {
            "name": "Gephyr",
            "base_url": f"{URL}/v1",
            "wire_api": "responses",
            "requires_openai_auth": True,
        }
        assert json.loads((home / ".codex/auth.json").read_text()) == {"OPENAI_API_KEY": KEY, "tokens": None}
    elif tool == "gemini-cli":
        assert (home / ".gemini/.env").read_text() == (
            f"# gemini\nGEMINI_API_KEY={KEY}\nOTHER=1\nGOOGLE_GEMINI_BASE_URL={URL}\n"
        )
        settings = json.loads((home / ".gemini/settings.json").read_text())
        assert settings == {"theme": "dark", "security": {"auth": {"selectedType": "gemini-api-key"}}}
    else:
        doc = json.loads((home / ".config/opencode/opencode.json").read_text())
        assert doc["$schema"] == "https://opencode.ai/config.json" and doc["theme"] == "x"
        assert doc["provider"]["openai"] == {
            "models": {"gpt-5": {}},
            "options": {"baseURL": f"{URL}/v1", "apiKey": KEY},
        }
        assert doc["provider"]["google"]["options"] == {"baseURL": f"{URL}/v1beta", "apiKey": KEY}
        assert doc["provider"]["anthropic"]["options"]["baseURL"] == f"{URL}/v1"


@pytest.mark.parametrize("tool", list(ORIGINALS))
def test_sync_status_show_restore_round_trip(home: Path, tool: str) -> None:
    originals = _write_originals(home, tool)
    before = cli_json("integrations", "status", tool, "--proxy-url", URL)
    assert before["is_synced"] is False and before["has_backup"] is False
    assert [f["exists"] for f in before["files"]] == [True] * len(originals)

    synced = cli_json("integrations", "sync", tool, "--proxy-url", URL + "/", "--api-key", KEY)
    assert synced["ok"] is True
    assert sorted(synced["files"]) == sorted(str(home / rel) for rel in originals)
    assert sorted(synced["backups"]) == sorted(str(home / rel) + ".gephyr.bak" for rel in originals)
    _check_written(home, tool)
    for rel in originals:
        assert stat.S_IMODE((home / rel).stat().st_mode) == 0o644
        assert (home / (rel + ".gephyr.bak")).read_bytes() == originals[rel][0]

    after = cli_json("integrations", "status", tool, "--proxy-url", URL)
    assert after["is_synced"] is True and after["has_backup"] is True
    assert (after["current_base_url"] or "").startswith(URL)
    assert cli_json("integrations", "status", tool, "--proxy-url", "http://elsewhere:1")["is_synced"] is False
    if tool == "codex":
        assert after["installed"] is True and after["version"] == "0.42.1"
    elif not any(os.path.exists(f"{d}/{tool}") for d in ("/usr/bin", "/usr/local/bin", "/opt/homebrew/bin")):
        assert after["installed"] is False and after["version"] is None

    again = cli_json("integrations", "sync", tool, "--proxy-url", URL, "--api-key", KEY)
    assert again["files"] == [] and again["backups"] == []  # nothing to change, backups kept

    shown = cli_json("integrations", "show", tool)
    first = next(iter(originals))
    assert shown["exists"] is True and shown["path"] == str(home / first)
    for rel in originals:
        view = cli_json("integrations", "show", tool, "--file", rel.rsplit("/", 1)[-1])
        assert KEY not in view["content"]
        if rel not in {
            ".claude.json",
            ".gemini/settings.json",
            ".codex/config.toml",
        }:  # files holding the key
            assert "…cdef" in view["content"], rel

    restored = cli_json("integrations", "restore", tool)
    assert (
        sorted(restored["restored"]) == sorted(str(home / rel) for rel in originals)
        and restored["cleaned"] == []
    )
    for rel, (data, mode) in originals.items():
        assert (home / rel).read_bytes() == data
        assert stat.S_IMODE((home / rel).stat().st_mode) == mode
        assert not (home / (rel + ".gephyr.bak")).exists()
    final = cli_json("integrations", "status", tool, "--proxy-url", URL)
    assert final["is_synced"] is False and final["has_backup"] is False


@pytest.mark.parametrize("tool", list(ORIGINALS))
def test_unparsable_file_is_left_untouched(home: Path, tool: str) -> None:
    originals = _write_originals(home, tool)
    rel = next(r for r in originals if not r.endswith(".env"))
    (home / rel).write_text("{not json" if rel.endswith(".json") else "[table\nbroken = ")
    snapshot = {r: (home / r).read_bytes() for r in originals}
    result = cli("integrations", "sync", tool, "--proxy-url", URL)
    assert (
        result.exit_code == 5
        and "cannot be parsed" in result.stderr
        and rel.rsplit("/", 1)[-1] in result.stderr
    )
    assert {r: (home / r).read_bytes() for r in originals} == snapshot
    assert not list(home.rglob("*.gephyr.bak"))
    status = cli_json("integrations", "status", tool)
    assert status["is_synced"] is False


def test_missing_files_are_created_private_and_cleaned_on_restore(home: Path) -> None:
    data = cli_json("integrations", "sync", "gemini-cli", "--api-key", KEY)
    assert data["backups"] == []
    env_file = home / ".gemini/.env"
    assert env_file.read_text() == f"GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:8045\nGEMINI_API_KEY={KEY}\n"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / ".gemini").stat().st_mode) == 0o700
    restored = cli_json("integrations", "restore", "gemini-cli")
    assert restored["restored"] == [] and restored["cleaned"] == [str(env_file)]
    assert not env_file.exists()  # left empty -> deleted
    assert (home / ".gemini/settings.json").exists()  # selectedType is left alone
    assert cli("integrations", "restore", "gemini-cli").exit_code == 3

    cli_json("integrations", "sync", "opencode")
    assert cli_json("integrations", "restore", "opencode")["cleaned"]
    assert not (home / ".config/opencode/opencode.json").exists()
    cli_json("integrations", "sync", "codex")
    cli_json("integrations", "restore", "codex")
    assert not (home / ".codex/config.toml").exists() and not (home / ".codex/auth.json").exists()


def test_default_key_and_url_and_errors(home: Path, data_dir: Path) -> None:
    cli_json("integrations", "sync", "claude-code")
    relay_key = cli("config", "get", "auth.api_key", "--reveal").stdout.strip()
    env = json.loads((home / ".claude/settings.json").read_text())["env"]
    assert env == {"ANTHROPIC_BASE_URL": "http://127.0.0.1:8045", "ANTHROPIC_API_KEY": relay_key}
    cli_json("config", "set", "server.public_url", "https://relay.example.com/")
    assert cli_json("integrations", "status", "claude-code")["is_synced"] is False
    cli_json("integrations", "sync", "claude-code", "--api-key", "")
    env = json.loads((home / ".claude/settings.json").read_text())["env"]
    assert env == {"ANTHROPIC_BASE_URL": "https://relay.example.com"}
    assert cli_json("integrations", "status", "claude-code")["is_synced"] is True
    assert cli("integrations", "show", "claude-code", "--file", "nope.json").exit_code == 2
    assert cli("integrations", "show", "codex").exit_code == 3
    assert cli("integrations", "sync", "claude-code", "--proxy-url", "ftp://x").exit_code == 2
    assert cli("integrations", "status", "vim").exit_code == 2
    from gephyr_core.admin import catalog, invoke
    from gephyr_core.admin.context import open_context
    from gephyr_core.errors import BadRequest

    ctx = open_context(data_dir, os.environ)
    try:
        status = invoke(ctx, catalog()["integrations.status"], {"app_type": "CLAUDE"}).data
        assert status["is_synced"] is True
        with pytest.raises(BadRequest):
            invoke(ctx, catalog()["integrations.status"], {"app_type": "vim"})
        with ctx.store.reading() as db:
            rows = [dict(r) for r in db.query("SELECT action, after FROM audit_events")]
    finally:
        ctx.close()
    actions = [r["action"] for r in rows]
    assert actions.count("integrations.sync") == 2 and "integrations.status" not in actions
    assert relay_key not in json.dumps(rows)
