"""Account commands on the local backend: lifecycle, references, exit codes, transfer."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from tests.cli_helpers import cli, cli_json


def add(provider: str, key: str, *extra: str) -> dict:
    return cli_json("accounts", "add", "--provider", provider, "--api-key", key, *extra)


def test_add_list_show_current() -> None:
    a = add("openai", "sk-openai-aaaa1111", "--label", "team-a", "--models", "gpt-4o*", "--models", "o3*")
    b = add("anthropic", "sk-ant-bbbb2222", "--email", "Ops@Example.com")
    assert a["label"] == "team-a" and a["credential_hint"] == "…1111" and a["is_current"]
    assert a["models"] == ["gpt-4o*", "o3*"] and a["base_url"] == "https://api.openai.com/v1"
    assert b["label"] == "Ops@Example.com" and b["base_url"] == "https://api.anthropic.com"
    listing = cli_json("accounts", "list")
    assert [x["id"] for x in listing["accounts"]] == [a["id"], b["id"]]
    assert listing["current_account_id"] == a["id"]
    assert cli_json("accounts", "show", a["id"][:8])["id"] == a["id"]
    assert cli_json("accounts", "show", "ops@example.com")["id"] == b["id"]
    assert cli_json("accounts", "current")["id"] == a["id"]
    assert "secret" not in json.dumps(listing) and "fingerprint" not in json.dumps(listing)


def test_upsert_matches_same_key_and_revives() -> None:
    a = add("gemini", "AIza-key-1234", "--label", "g1")
    again = cli(
        "--json", "accounts", "add", "--provider", "gemini", "--api-key", "AIza-key-1234", "--label", "g2"
    )
    assert again.exit_code == 0
    assert json.loads(again.stdout)["id"] == a["id"]
    assert [x["label"] for x in cli_json("accounts", "list")["accounts"]] == ["g2"]
    cli_json("accounts", "signout", "g2")
    assert cli_json("accounts", "show", "g2")["disabled_reason"] == "logged_out"
    revived = add("gemini", "AIza-key-5678", "--label", "g2")
    assert revived["id"] != a["id"]  # a new key without email is a new identity
    email = add("gemini", "AIza-key-9999", "--email", "a@b.c")
    again = add("gemini", "AIza-key-0000", "--email", "A@B.C")
    assert again["id"] == email["id"] and again["credential_hint"] == "…0000"


def test_update_switch_reorder_toggle_delete() -> None:
    a = add("openai", "sk-1-aaaaaaaa", "--label", "a")
    b = add("openai", "sk-2-bbbbbbbb", "--label", "b")
    c = add("openai", "sk-3-cccccccc", "--label", "c")
    upd = cli_json("accounts", "update", "a", "--label", "alpha", "--base-url", "HTTP://Example.COM:8080/v1/")
    assert upd["label"] == "alpha" and upd["base_url"] == "http://example.com:8080/v1"
    assert cli_json("accounts", "switch", "b") == {"ok": True}
    assert cli_json("accounts", "current")["id"] == b["id"]
    assert cli_json("accounts", "reorder", "c", "alpha") == {"ok": True}
    assert [x["id"] for x in cli_json("accounts", "list")["accounts"]] == [c["id"], a["id"], b["id"]]
    off = cli_json("accounts", "toggle-proxy", "c", "--off", "--reason", "billing")
    assert off["proxy_disabled"] and off["proxy_disabled_reason"] == "billing"
    on = cli_json("accounts", "toggle-proxy", "c", "--on")
    assert not on["proxy_disabled"] and on["proxy_disabled_reason"] is None
    assert cli_json("accounts", "delete", "b") == {"deleted": 1}
    assert cli_json("accounts", "current")["id"] == c["id"]  # current handed to the next by priority
    assert cli_json("accounts", "delete", "--all") == {"deleted": 2}
    assert cli_json("accounts", "list") == {"accounts": [], "current_account_id": None}


def test_bad_input_exit_codes() -> None:
    add("openai", "sk-1-aaaaaaaa", "--label", "same")
    add("anthropic", "sk-2-bbbbbbbb", "--label", "same")
    cases = [
        (("accounts", "show", "nobody"), 3, "no account matches 'nobody'"),
        (("accounts", "show", "same"), 2, "matches several accounts"),
        (("accounts", "add", "--provider", "mystery", "--api-key", "k"), 2, "unknown provider"),
        (
            ("accounts", "add", "--provider", "openai", "--api-key", "k", "--base-url", "not a url"),
            2,
            "invalid base URL",
        ),
        (("accounts", "delete"), 2, "give account ids or --all"),
        (("accounts", "toggle-proxy", "nobody", "--off"), 3, "no account"),
        (("accounts", "import", "/nonexistent/file.json"), 2, "cannot read"),
        (("accounts", "import", "--from-db", "../x/gephyr.db"), 2, "'..'"),
        (("--remote", "http://127.0.0.1:9", "accounts", "list"), 6, "cannot reach"),
        (("server", "status"), 6, "no server running"),
    ]
    for args, code, message in cases:
        result = cli(*args)
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert len(cli_json("accounts", "list")["accounts"]) == 2


def test_export_import_round_trip(tmp_path: Path) -> None:
    add("openai", "sk-export-1111", "--label", "x", "--models", "gpt-*")
    add("anthropic", "sk-export-2222", "--label", "y")
    out = tmp_path / "accounts.json"
    assert cli_json("accounts", "export", "-o", str(out)) == {"ok": True, "path": str(out), "accounts": 2}
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    doc = json.loads(out.read_text())
    assert doc["format"] == "gephyr-accounts" and doc["version"] == 1
    assert [e["api_key"] for e in doc["accounts"]] == ["sk-export-1111", "sk-export-2222"]
    cli_json("accounts", "delete", "x")
    report = cli_json("accounts", "import", str(out))
    assert (report["total"], report["created"], report["updated"], report["failed"]) == (2, 1, 1, [])
    assert cli_json("accounts", "show", "x")["models"] == ["gpt-*"]
    bad = tmp_path / "bad.json"
    bad.write_text('{"something": 1}')
    result = cli("accounts", "import", str(bad))
    assert result.exit_code == 2 and "unrecognised import file" in result.stderr
    legacy = tmp_path / "legacy.json"
    legacy.write_text('{"accounts": [{"email": "a@b.c", "refresh_token": "1//x"}]}')
    report = cli_json("accounts", "import", str(legacy))
    assert report["created"] == 0 and report["failed"][0]["index"] == 0


def test_import_from_another_data_dir(tmp_path: Path, data_dir: Path) -> None:
    other = tmp_path / "other"
    env = {"GEPHYR_DATA_DIR": str(other)}
    assert (
        cli(
            "accounts", "add", "--provider", "openai", "--api-key", "sk-other-9999", "--label", "o", env=env
        ).exit_code
        == 0
    )
    report = cli_json("accounts", "import", "--from-db", str(other))
    assert report["created"] == 1 and report["failed"] == []
    assert cli_json("accounts", "export")["accounts"][0]["api_key"] == "sk-other-9999"
    own = cli("accounts", "import", "--from-db", str(data_dir / "gephyr.db"))
    assert own.exit_code == 2 and "own database" in own.stderr


def test_signout_all_and_delete() -> None:
    add("openai", "sk-1-aaaaaaaa", "--label", "a")
    add("openai", "sk-2-bbbbbbbb", "--label", "b")
    result = cli_json("accounts", "signout", "--all")
    assert result == {"success": True, "total": 2, "logged_out": 2, "deleted": 0, "failed": []}
    assert cli_json("accounts", "current") is None
    assert cli_json("accounts", "export")["accounts"] == []  # signed-out accounts have no secret
    assert cli_json("accounts", "signout", "a", "--delete")["deleted"] is True
    assert [x["label"] for x in cli_json("accounts", "list")["accounts"]] == ["b"]
