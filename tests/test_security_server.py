"""The security layers in-process: lockout, user tokens on the public routes, IP filter, CORS, stop."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from gephyr_core.admin.context import open_context
from gephyr_core.server import create_app
from gephyr_core.server.serve import prepare

PROXY = ("127.0.0.1", 5000)


def make(data_dir: Path, **overrides: Any) -> TestClient:
    ctx = open_context(data_dir, {})
    merged = {"admin.enabled": True, "auth.trusted_proxies": ["127.0.0.1"], **overrides}
    ctx.overrides = merged
    rt = prepare(ctx, merged, lambda line: None)
    return TestClient(create_app(rt, watch_interval=0.05), client=PROXY)


@pytest.fixture
def client(data_dir: Path) -> Iterator[TestClient]:
    with make(data_dir, **{"admin.lockout_max_failures": 3, "admin.lockout_seconds": 60}) as c:
        yield c


def rt(c: TestClient) -> Any:
    return c.app.app.state.runtime  # type: ignore[attr-defined]


def admin(c: TestClient) -> dict[str, str]:
    return {"authorization": f"Bearer {rt(c).settings.get('auth.api_key')}"}


def from_ip(ip: str, **headers: str) -> dict[str, str]:
    return {"x-forwarded-for": ip, **headers}


def test_lockout_per_ip_with_retry_after_and_audit(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="gephyr.audit")
    for _ in range(2):
        assert (
            client.get("/api/accounts", headers=from_ip("9.9.9.9", authorization="Bearer no")).status_code
            == 401
        )
    assert (
        client.get("/api/accounts", headers=from_ip("9.9.9.9", **admin(client))).status_code == 200
    )  # clears
    for _ in range(3):
        assert (
            client.get("/api/accounts", headers=from_ip("9.9.9.9", authorization="Bearer no")).status_code
            == 401
        )
    locked = client.get("/api/accounts", headers=from_ip("9.9.9.9", **admin(client)))
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "auth_locked_out"
    assert 1 <= int(locked.headers["retry-after"]) <= 60
    assert client.get("/api/no-such", headers=from_ip("9.9.9.9", **admin(client))).status_code == 429
    assert client.get("/api/accounts", headers=from_ip("8.8.8.8", **admin(client))).status_code == 200
    rt(client).security.flush()
    audit = rt(client).ctx.store.db.execute(
        "SELECT actor, target FROM audit_events WHERE action = 'admin.lockout'"
    )
    assert audit.fetchall() == [("system", "9.9.9.9")]
    (line,) = [r.getMessage() for r in caplog.records if "admin.lockout" in r.getMessage()]
    assert line.startswith("[ADMIN_AUDIT] ") and '"target": "9.9.9.9"' in line


def _create_token(c: TestClient, **body: Any) -> dict[str, Any]:
    r = c.post("/api/user-tokens", json={"username": "alice", **body}, headers=admin(c))
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_user_token_opens_public_routes_never_admin(client: TestClient) -> None:
    token = _create_token(client)
    assert token["token"].startswith("sk-") and "token_hash" not in token
    listed = client.get("/api/user-tokens", headers=admin(client)).json()
    assert "token" not in listed[0] and listed[0]["token_hint"] == token["token_hint"]
    bearer = {"authorization": f"Bearer {token['token']}"}
    assert client.get("/v1/models", headers=from_ip("1.1.1.1", **bearer)).status_code == 200
    assert client.get(f"/v1beta/models?key={token['token']}", headers=from_ip("1.1.1.1")).status_code == 200
    api = client.get("/api/accounts", headers=bearer)
    assert api.status_code == 401 and api.json()["error"]["code"] == "unauthorized"
    rt(client).security.flush()
    ips = client.get(f"/api/user-tokens/{token['id']}/ips", headers=admin(client)).json()
    assert [(b["ip_address"], b["request_count"]) for b in ips] == [("1.1.1.1", 2)]
    summary = client.get("/api/user-tokens/summary", headers=admin(client)).json()
    assert summary == {"total_tokens": 1, "active_tokens": 1, "total_users": 1, "today_requests": 2}


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/v1/chat/completions", "openai"),
        ("/v1/messages", "anthropic"),
        ("/v1beta/models/gemini-2.5-flash:generateContent", "gemini"),
    ],
)
def test_token_refusals_in_the_callers_shape(client: TestClient, path: str, shape: str) -> None:
    token = _create_token(client, max_ips=1, curfew_start="00:00", curfew_end="23:59")
    headers = {"x-api-key": token["token"], "content-type": "application/json"}
    r = client.post(path, content=b"{}", headers=from_ip("2.2.2.2", **headers))
    assert r.status_code == 403 and r.headers.get("www-authenticate") == "Bearer"
    body = r.json()
    if shape == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] == "permission_error"
    elif shape == "gemini":
        assert body["error"]["status"] == "PERMISSION_DENIED"
    else:
        assert body["error"]["type"] == "permission_error"
    over = client.post(path, content=b"{}", headers=from_ip("3.3.3.3", **headers))
    assert over.status_code == 403 and "limit 1" in json.dumps(over.json())
    client.patch(f"/api/user-tokens/{token['id']}", json={"enabled": False}, headers=admin(client))
    off = client.post(path, content=b"{}", headers=from_ip("2.2.2.2", **headers))
    assert off.status_code == 401 and "disabled" in json.dumps(off.json())


def test_token_crud_validation(client: TestClient) -> None:
    bad = client.post(
        "/api/user-tokens", json={"username": "", "curfewStart": "25:00"}, headers=admin(client)
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_failed"
    fields = {p["field"] for p in bad.json()["error"]["details"]}
    assert fields == {"username", "curfew_start"}
    token = _create_token(client, expiresType="day", maxIps=3, description="d")
    assert (
        token["expires_type"] == "day" and token["max_ips"] == 3 and token["expires_at"] > token["created_at"]
    )
    tid = token["id"]
    patched = client.patch(
        f"/api/user-tokens/{tid}", json={"description": None, "maxIps": 0}, headers=admin(client)
    )
    assert patched.json()["description"] is None and patched.json()["max_ips"] == 0
    nulled = client.patch(f"/api/user-tokens/{tid}", json={"username": None}, headers=admin(client))
    assert nulled.status_code == 400
    renewed = client.post(
        f"/api/user-tokens/{tid}/renew", json={"expiresType": "never"}, headers=admin(client)
    )
    assert renewed.json()["expires_at"] is None and renewed.json()["enabled"] is True
    assert client.delete(f"/api/user-tokens/{tid}/ips", headers=admin(client)).json() == {"cleared": 0}
    assert client.delete(f"/api/user-tokens/{tid}", headers=admin(client)).status_code == 204
    gone = client.delete(f"/api/user-tokens/{tid}", headers=admin(client))
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


def test_ip_filter_blocks_in_the_callers_shape(client: TestClient) -> None:
    key = {"authorization": f"Bearer {rt(client).settings.get('auth.api_key')}"}
    r = client.post(
        "/api/security/blacklist", json={"ipPattern": "6.6.0.0/16", "reason": "abuse"}, headers=admin(client)
    )
    assert r.status_code == 201 and r.json()["ip_pattern"] == "6.6.0.0/16"
    dup = client.post("/api/security/blacklist", json={"ip_pattern": "6.6.1.1/16"}, headers=admin(client))
    assert dup.status_code == 409
    assert client.get("/v1/models", headers=from_ip("6.6.1.1", **key)).status_code == 200  # blacklist is off
    client.post(
        "/api/security/config",
        json={"config": {"blacklist": {"enabled": True, "block_message": "Nope."}}},
        headers=admin(client),
    )
    blocked = client.get("/v1/models", headers=from_ip("6.6.1.1", **key))
    assert blocked.status_code == 403
    err = blocked.json()["error"]
    assert err["type"] == "ip_blocked" and err["code"] == "ip_blocked" and err["ip"] == "6.6.1.1"
    assert err["message"].startswith("Nope. abuse")
    claude = client.post("/v1/messages", content=b"{}", headers=from_ip("6.6.1.1", **key))
    assert claude.status_code == 403 and claude.json()["error"]["type"] == "permission_error"
    check = client.get("/api/security/blacklist/check?ip=6.6.9.9", headers=admin(client)).json()
    assert check["result"] is True and check["entry"]["reason"] == "abuse"
    client.post("/api/security/config", json={"whitelist": {"enabled": True}}, headers=admin(client))
    client.post("/api/security/whitelist", json={"ip_pattern": "6.6.1.1"}, headers=admin(client))
    assert client.get("/v1/models", headers=from_ip("6.6.1.1", **key)).status_code == 200
    assert client.get("/v1/models", headers=from_ip("4.4.4.4", **key)).status_code == 403
    assert client.get("/internal/health", headers=from_ip("4.4.4.4")).status_code == 200  # not filtered
    rt(client).security.flush()
    logs = client.get("/api/security/logs?blockedOnly=true", headers=admin(client)).json()
    assert logs["total"] == 3 and {row["client_ip"] for row in logs["logs"]} == {"6.6.1.1", "4.4.4.4"}
    entry = client.get("/api/security/blacklist", headers=admin(client)).json()[0]
    assert entry["hit_count"] == 2
    stats = client.get("/api/security/stats", headers=admin(client)).json()
    assert stats["blocked_requests"] == 3 and any(t["is_blocked"] for t in stats["top_ips"])


def test_cors_strict_and_permissive(client: TestClient) -> None:
    pre = {"access-control-request-method": "POST", "access-control-request-headers": "x-custom"}
    ok = client.options("/v1/chat/completions", headers={"origin": "http://localhost:5173", **pre})
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert (
        "access-control-allow-credentials" not in ok.headers
        and ok.headers["access-control-max-age"] == "3600"
    )
    foreign = client.options("/v1/chat/completions", headers={"origin": "https://evil.example", **pre})
    assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers
    simple = client.get("/health", headers={"origin": "http://127.0.0.1:3000"})
    assert simple.headers["access-control-allow-origin"] == "http://127.0.0.1:3000"
    assert "x-request-id" in simple.headers["access-control-expose-headers"]
    assert (
        "access-control-allow-origin" not in client.get("/health", headers={"origin": "https://x.y"}).headers
    )
    client.post("/api/config", json={"config": {"cors": {"mode": "permissive"}}}, headers=admin(client))
    anywhere = client.options("/v1/messages", headers={"origin": "https://evil.example", **pre})
    assert anywhere.status_code == 204 and anywhere.headers["access-control-allow-origin"] == "*"
    assert anywhere.headers["access-control-allow-headers"] == "x-custom"


def test_stop_and_start(client: TestClient) -> None:
    key = {"authorization": f"Bearer {rt(client).settings.get('auth.api_key')}"}
    stopped = client.post("/api/proxy/stop", headers=admin(client)).json()
    assert stopped == {"ok": True, "running": False, "shutting_down": False}
    r = client.get("/v1/models", headers=key)
    assert r.status_code == 503 and r.json()["error"]["code"] == "service_disabled"
    gem = client.post("/v1beta/models/g:generateContent", content=b"{}", headers=key)
    assert gem.status_code == 503 and gem.json()["error"]["status"] == "UNAVAILABLE"
    assert client.get("/health").status_code == 200 and client.head("/").status_code == 503
    assert client.get("/internal/status").json()["service_running"] is False
    assert client.get("/api/proxy/status", headers=admin(client)).json()["running"] is False
    assert rt(client).ctx.config.persisted()["server"]["auto_start"] is False
    assert client.post("/api/proxy/start", headers=admin(client)).json() == {"ok": True, "running": True}
    assert client.get("/v1/models", headers=key).status_code == 200


def test_body_limit_before_auth(data_dir: Path) -> None:
    with make(data_dir, **{"server.max_body_size": 2048}) as c:
        r = c.post("/v1/messages", content=b"x" * 4096, headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["error"]["type"] == "request_too_large"
