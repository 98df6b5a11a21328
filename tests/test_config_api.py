"""Config over the API (config.md §§4–5): all-or-nothing saves, key rotation, request timeout, apply."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from tests.cli_helpers import cli, cli_json
from tests.relay.harness import RelayServer


def _api(relay: RelayServer, method: str, path: str, body: Any = None) -> httpx.Response:
    rt = relay.ctx.runtime
    assert rt is not None
    token = {"x-gephyr-local-token": rt.local_token}  # type: ignore[attr-defined]
    return httpx.request(method, relay.url + path, headers=token, json=body)


def test_invalid_post_lists_every_problem_and_changes_nothing(relay_server: RelayServer) -> None:
    config_file = relay_server.ctx.dd.config_path
    before = config_file.read_bytes()
    bad = {
        "server": {"port": 0, "request_timeout": 9999, "host": "not a host!"},
        "routing": {"max_attempts": "three"},
        "scheduling": {"mode": "Fastest"},
        "auth": {"api_key": "sk-would-change"},
    }
    r = _api(relay_server, "POST", "/api/config", {"config": bad})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "validation_failed"
    fields = {p["field"] for p in error["details"]}
    assert {
        "server.port",
        "server.request_timeout",
        "server.host",
        "routing.max_attempts",
        "scheduling.mode",
    } <= fields
    assert config_file.read_bytes() == before
    assert _api(relay_server, "GET", "/api/config").json()["server"]["request_timeout"] == 120
    models = httpx.get(
        relay_server.url + "/v1/models", headers={"authorization": f"Bearer {relay_server.api_key}"}
    )
    assert models.status_code == 200  # the running key is untouched


def test_valid_post_keeps_comments_and_a_blank_key(relay_server: RelayServer) -> None:
    r = _api(
        relay_server,
        "POST",
        "/api/config",
        {"config": {"auth": {"api_key": "  "}, "routing": {"max_attempts": 4}}},
    )
    data = r.json()
    assert r.status_code == 200 and data["ok"] is True and data["saved"] is True
    assert "auth.api_key_preserved_from_existing" in data["warnings"]
    assert data["runtime_apply"]["policy"] == "always_hot_applied"
    text = relay_server.ctx.dd.config_path.read_text()
    assert "# Accounts tried per request before giving up." in text and "max_attempts = 4" in text
    ok = httpx.get(
        relay_server.url + "/v1/models", headers={"authorization": f"Bearer {relay_server.api_key}"}
    )
    assert ok.status_code == 200


def test_rotate_key_is_shown_once_and_live(relay_server: RelayServer) -> None:
    r = _api(relay_server, "POST", "/api/proxy/api-key/generate")
    data = r.json()
    assert r.status_code == 200 and data["api_key"].startswith("sk-") and len(data["api_key"]) == 35
    assert data["runtime_apply"]["applied"] is True
    old = httpx.get(
        relay_server.url + "/v1/models", headers={"authorization": f"Bearer {relay_server.api_key}"}
    )
    new = httpx.get(relay_server.url + "/v1/models", headers={"authorization": f"Bearer {data['api_key']}"})
    assert (old.status_code, new.status_code) == (401, 200)
    assert _api(relay_server, "GET", "/api/config").json()["auth"]["api_key"] == "__redacted__"
    with relay_server.ctx.store.reading() as db:
        audit = [dict(r) for r in db.query("SELECT action, after FROM audit_events")]
    assert any(a["action"] == "config.rotate_api_key" for a in audit)
    assert data["api_key"] not in json.dumps(audit)


def test_rotate_key_cli_and_overlay_warning(data_dir: Path) -> None:
    first = cli_json("config", "rotate-key")
    assert cli("config", "get", "auth.api_key", "--reveal").stdout.strip() == first["api_key"]
    human = cli("config", "rotate-key")
    assert (
        human.exit_code == 0
        and human.stdout.strip().startswith("sk-")
        and human.stdout.strip() != first["api_key"]
    )
    overlaid = cli_json("config", "rotate-key", env={"API_KEY": "sk-from-env-1234"})
    assert "API_KEY is set" in overlaid["message"]


def test_request_timeout(relay_server: RelayServer, data_dir: Path) -> None:
    assert cli_json("config", "request-timeout") == {"request_timeout": 120, "effective_request_timeout": 120}
    set_ = cli_json("config", "request-timeout", "3")
    assert set_["request_timeout"] == 3 and set_["effective_request_timeout"] == 5 and set_["saved"] is True
    assert cli("config", "request-timeout", "0").exit_code == 2
    assert cli("config", "request-timeout", "601").exit_code == 2
    for alias in ("requestTimeout", "requestTimeoutSeconds", "request_timeout_seconds"):
        r = _api(relay_server, "POST", "/api/proxy/request-timeout", {alias: 42})
        assert r.status_code == 200 and r.json()["request_timeout"] == 42, alias
    assert relay_server.ctx.settings().get("server.request_timeout") == 42
    missing = _api(relay_server, "POST", "/api/proxy/request-timeout", {})
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "bad_request"
    got = _api(relay_server, "GET", "/api/proxy/request-timeout").json()
    assert got == {"request_timeout": 42, "effective_request_timeout": 42}


def test_apply_file(data_dir: Path, tmp_path: Path) -> None:
    good = tmp_path / "team.toml"
    good.write_text('[routing]\nmax_attempts = 2\n[routing.mapping]\nfast = "openai:gpt-4o-mini"\n')
    data = cli_json("config", "apply", str(good))
    assert data["ok"] is True
    assert cli_json("config", "get", "routing.max_attempts")["value"] == 2
    assert cli_json("mapping", "list")["custom_mapping"] == {"fast": "openai:gpt-4o-mini"}
    before = (data_dir / "config.toml").read_bytes()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"server": {"port": -1}, "routing": {"max_attempts": 99}}))
    result = cli("config", "apply", str(bad))
    assert result.exit_code == 2
    assert "server.port" in result.stderr and "routing.max_attempts" in result.stderr
    assert (data_dir / "config.toml").read_bytes() == before
    broken = tmp_path / "broken.toml"
    broken.write_text("[routing\n")
    assert cli("config", "apply", str(broken)).exit_code == 2
    assert cli("config", "apply", str(tmp_path / "missing.toml")).exit_code == 2
