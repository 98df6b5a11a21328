"""Encryption at rest: format, fail-closed decryption, key sources, modes, re-encryption."""

from __future__ import annotations

import base64
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from gephyr_core.errors import KeyUnavailable
from gephyr_core.secrets import Cipher, key_id
from tests.cli_helpers import cli, cli_json


def test_ciphertext_format_and_round_trip() -> None:
    c = Cipher(b"k" * 32)
    value = c.encrypt("account.secret", "sk-live-123")
    prefix, version, kid, payload = value.split(":", 3)
    assert (prefix, version, kid) == ("enc", "v1", key_id(b"k" * 32))
    assert "=" not in payload and len(base64.urlsafe_b64decode(payload + "==")) == 12 + 11 + 16
    assert c.decrypt("account.secret", value) == "sk-live-123"


def test_fails_closed() -> None:
    c = Cipher(b"k" * 32)
    value = c.encrypt("account.secret", "sk-live-123")
    with pytest.raises(KeyUnavailable, match="key mismatch"):
        Cipher(b"x" * 32).decrypt("account.secret", value)
    with pytest.raises(KeyUnavailable):
        c.decrypt("account.access_token", value)  # bound to its field
    tampered = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    with pytest.raises(KeyUnavailable):
        c.decrypt("account.secret", tampered)
    with pytest.raises(KeyUnavailable, match="version"):
        c.decrypt("account.secret", value.replace("enc:v1:", "enc:v9:"))
    assert c.decrypt("account.secret", "plain-by-hand") == "plain-by-hand"


def _db_secret(data_dir: Path) -> str:
    with sqlite3.connect(data_dir / "gephyr.db") as conn:
        return conn.execute("SELECT secret FROM accounts").fetchone()[0]


def test_secret_files_are_private_and_credentials_never_shown(data_dir: Path) -> None:
    result = cli("accounts", "add", "--provider", "openai", "--api-key", "sk-verysecret-abcd1234")
    assert result.exit_code == 0, result.stderr
    for name in ("gephyr.db", "secret.key", "config.toml"):
        assert stat.S_IMODE(os.stat(data_dir / name).st_mode) == 0o600, name
    assert _db_secret(data_dir).startswith("enc:v1:")
    for args in (
        ("accounts", "list"),
        ("--json", "accounts", "list"),
        ("accounts", "show", "openai-…1234"),
        ("--json", "server", "doctor"),
        ("secrets", "status"),
    ):
        out = cli(*args)
        assert "sk-verysecret" not in out.stdout + out.stderr, args
    assert cli_json("accounts", "export")["accounts"][0]["api_key"] == "sk-verysecret-abcd1234"


def test_status_reports_mismatch_and_reencrypt_rotates(data_dir: Path, tmp_path: Path) -> None:
    assert cli("accounts", "add", "--provider", "anthropic", "--api-key", "sk-ant-123456").exit_code == 0
    cli("config", "set", "auth.admin_password", "pw-123456789")
    status = cli_json("secrets", "status")
    assert status["keySource"] == "file" and status["decryptFailures"] == 0 and status["secretsSeen"] == 2
    old_key = tmp_path / "old.key"
    old_key.write_bytes((data_dir / "secret.key").read_bytes())
    env = {"GEPHYR_ENCRYPTION_KEY": "a new passphrase that is long enough 123"}
    bad = cli("--json", "secrets", "status", env=env)
    assert bad.exit_code == 1 and '"decryptFailures": 2' in bad.stdout
    (data_dir / "secret.key").unlink()
    report = cli_json("secrets", "reencrypt", "--old-key-file", str(old_key), env=env)
    assert report == {
        "config_rewritten": True,
        "accounts_total": 1,
        "accounts_rewritten": 1,
        "accounts_failed": 0,
        "proxies_rewritten": 0,
    }
    assert cli_json("secrets", "status", env=env)["keySource"] == "env"
    assert cli("--json", "secrets", "status", env=env).exit_code == 0
    assert cli_json("accounts", "export", env=env)["accounts"][0]["api_key"] == "sk-ant-123456"
    assert cli("config", "get", "auth.admin_password", "--reveal", env=env).stdout.strip() == "pw-123456789"


def test_reencrypt_refused_with_remote() -> None:
    result = cli("--remote", "http://127.0.0.1:9", "secrets", "reencrypt")
    assert result.exit_code == 2
