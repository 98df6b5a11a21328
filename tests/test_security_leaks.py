"""After a full run against a real `gephyr serve`, no credential appears in any log line, audit
event, stored log row, error body or CLI output (the one-time token creation answer excepted)."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import httpx

from tests.cli_helpers import cli, start_server

PASSWORD = "correct-horse-battery-staple-7"
UPSTREAM_KEY = "sk-upstream-secret-0123456789"


def test_no_credential_leaks(tmp_path: Path) -> None:
    data = tmp_path / "d"
    env = {"GEPHYR_DATA_DIR": str(data)}
    cli("config", "path", env=env)  # first use: the relay key is shown once here, outside the scan
    api_key = cli("config", "get", "auth.api_key", "--reveal", env=env).stdout.strip()
    srv = start_server(data, "--admin", env={"WEB_PASSWORD": PASSWORD})
    outputs: list[str] = []
    bodies: list[str] = []

    def run(*args: str) -> str:
        for prefix in ((), ("--json",)):
            result = cli(*prefix, *args, env=env)
            outputs.append(result.stdout + result.stderr)
        return outputs[-1]

    try:
        created = cli("--json", "tokens", "create", "eve", "--max-ips", "1", env=env)
        token = created.stdout.split('"token": "')[1].split('"')[0]
        run(
            "accounts",
            "add",
            "--provider",
            "openai",
            "--api-key",
            UPSTREAM_KEY,
            "--base-url",
            "http://127.0.0.1:9/v1",
        )
        with httpx.Client(base_url=srv.url, timeout=10) as client:
            for headers, query in (
                ({"authorization": f"Bearer {token}"}, ""),
                ({"x-api-key": token, "x-forwarded-for": "7.7.7.7"}, ""),
                ({}, f"?key={token}"),
                ({"x-goog-api-key": api_key}, ""),
                ({"authorization": f"Bearer {PASSWORD}"}, ""),
                ({"authorization": f"Bearer {api_key}x"}, f"?key={PASSWORD}"),
            ):
                bodies.append(client.get(f"/v1/models{query}", headers=headers).text)
                r = client.post(
                    f"/v1/chat/completions{query}", headers=headers, json={"model": "gpt-4o", "messages": []}
                )
                bodies.append(r.text)
            for guess in (api_key, token, PASSWORD + "!", "x"):
                bodies.append(client.get("/api/accounts", headers={"authorization": f"Bearer {guess}"}).text)
            admin = {"authorization": f"Bearer {PASSWORD}"}
            bodies.append(client.post("/api/user-tokens", json={"username": ""}, headers=admin).text)
            bodies.append(client.get("/api/config", headers=admin).text)
        for args in (
            ("tokens", "list"),
            ("tokens", "summary"),
            ("security", "logs", "list"),
            ("security", "stats"),
            ("security", "token-stats"),
            ("accounts", "list"),
            ("config", "show"),
            ("server", "doctor"),
            ("security", "blacklist", "add", "7.7.7.0/24", "--reason", "leak test"),
            ("security", "blacklist", "list"),
        ):
            run(*args)
    finally:
        srv.proc.send_signal(signal.SIGTERM)
        out, err = srv.proc.communicate(timeout=20)
        srv.stop()
    db = sqlite3.connect(data / "gephyr.db")
    try:
        stored = [
            repr(row)
            for table in (
                "audit_events",
                "ip_access_logs",
                "token_usage_logs",
                "token_ip_bindings",
                "user_tokens",
            )
            for row in db.execute(f"SELECT * FROM {table}")
        ]
    finally:
        db.close()
    logs = [p.read_text(errors="replace") for p in (data / "logs").rglob("*") if p.is_file()]
    haystacks = {
        "server output": out.decode(errors="replace") + err.decode(errors="replace"),
        "cli output": "\n".join(outputs),
        "error bodies": "\n".join(bodies),
        "stored rows": "\n".join(stored),
        "log files": "\n".join(logs),
    }
    assert len(stored) > 10 and any("admin.lockout" in s or "tokens.create" in s for s in stored)
    for secret in (api_key, PASSWORD, token, token[3:], UPSTREAM_KEY):
        for where, text in haystacks.items():
            assert secret not in text, f"a credential leaked into {where}"
