"""The server in-process: health routes, admin gate and auth, request ids, bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from gephyr_core.admin.context import open_context
from gephyr_core.server import create_app
from gephyr_core.server.serve import prepare


def make_client(data_dir: Path, env: dict[str, str] | None = None, admin: bool = True) -> TestClient:
    ctx = open_context(data_dir, env or {})
    overrides = {"admin.enabled": admin}
    ctx.overrides = overrides
    rt = prepare(ctx, overrides, lambda line: None)
    return TestClient(create_app(rt, watch_interval=0.05), client=("127.0.0.1", 5000))


@pytest.fixture
def client(data_dir: Path) -> Iterator[TestClient]:
    with make_client(data_dir) as c:
        yield c


def api_key(c: TestClient) -> str:
    return str(c.app.app.state.runtime.settings.get("auth.api_key"))  # type: ignore[attr-defined]


def test_health_routes_need_no_credential(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "version": "0.1.0"}
    assert client.head("/").status_code == 200
    assert client.get("/internal/health").json()["status"] == "ok"
    status = client.get("/internal/status").json()
    assert status["status"] == "ok" and status["service_running"] is True


def test_request_ids(client: TestClient) -> None:
    r = client.get("/health", headers={"x-request-id": "abc-123", "x-trace-id": "trace-9"})
    assert r.headers["x-request-id"] == "abc-123" and r.headers["x-correlation-id"] == "trace-9"
    r = client.get("/health", headers={"x-request-id": "x" * 200})
    assert len(r.headers["x-request-id"]) == 36 and r.headers["x-correlation-id"] == r.headers["x-request-id"]


def test_admin_auth(client: TestClient) -> None:
    r = client.get("/api/accounts")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert client.get("/api/accounts", headers={"authorization": "Bearer nope"}).status_code == 401
    ok = client.get("/api/accounts", headers={"authorization": f"Bearer {api_key(client)}"})
    assert ok.status_code == 200 and ok.json() == {"accounts": [], "current_account_id": None}
    assert client.get("/api/accounts", headers={"x-api-key": api_key(client)}).status_code == 200
    assert client.get(f"/api/accounts?key={api_key(client)}").status_code == 200


def test_admin_password_replaces_api_key(data_dir: Path) -> None:
    with make_client(data_dir, {"WEB_PASSWORD": "correct horse battery"}) as c:
        assert c.get("/api/accounts", headers={"authorization": f"Bearer {api_key(c)}"}).status_code == 401
        ok = c.get("/api/accounts", headers={"authorization": "Bearer correct horse battery"})
        assert ok.status_code == 200


def test_admin_api_off_is_404_except_local_token(data_dir: Path) -> None:
    with make_client(data_dir, admin=False) as c:
        r = c.get("/api/accounts", headers={"authorization": f"Bearer {api_key(c)}"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        token = c.app.app.state.runtime.local_token  # type: ignore[attr-defined]
        assert c.get("/api/accounts", headers={"x-gephyr-local-token": token}).status_code == 200
        assert c.get("/api/accounts", headers={"x-gephyr-local-token": "0" * 64}).status_code == 404


def test_local_token_refused_from_a_remote_peer(data_dir: Path) -> None:
    ctx = open_context(data_dir, {})
    rt = prepare(ctx, {"admin.enabled": False}, lambda line: None)
    with TestClient(create_app(rt), client=("192.0.2.7", 5000)) as c:
        r = c.get("/api/accounts", headers={"x-gephyr-local-token": rt.local_token})
        assert r.status_code == 404


def test_bad_admin_input(client: TestClient) -> None:
    h = {"authorization": f"Bearer {api_key(client)}"}
    cases = [
        (client.post("/api/accounts", content=b"{not json", headers=h), 400, "bad_request"),
        (client.post("/api/accounts", json=[1, 2], headers=h), 400, "bad_request"),
        (
            client.post("/api/accounts", json={"provider": "openai", "apiKey": 5}, headers=h),
            400,
            "bad_request",
        ),
        (client.post("/api/accounts", json={"provider": "x", "apiKey": "k"}, headers=h), 400, "bad_request"),
        (client.post("/api/accounts/switch", json={}, headers=h), 400, "bad_request"),
        (client.get("/api/accounts/does-not-exist", headers=h), 404, "not_found"),
        (client.get("/api/nothing/here", headers=h), 404, "not_found"),
        (client.put("/api/accounts", headers=h), 404, "not_found"),
        (
            client.post("/api/config", json={"config": {"server": {"port": "x"}}}, headers=h),
            400,
            "validation_failed",
        ),
    ]
    for resp, status, code in cases:
        assert resp.status_code == status, resp.text
        assert resp.json()["error"]["code"] == code
    assert client.get("/health").status_code == 200


def test_body_limit(data_dir: Path) -> None:
    with make_client(data_dir, {"MAX_BODY_SIZE": "4096"}) as c:
        h = {"authorization": f"Bearer {api_key(c)}"}
        r = c.post("/api/accounts", content=b"x" * 5000, headers=h)
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"

        def chunks() -> Iterator[bytes]:
            yield from (b"y" * 1024 for _ in range(8))

        r = c.post("/api/accounts", content=chunks(), headers=h)
        assert r.status_code == 413
        assert c.get("/api/accounts", headers=h).status_code == 200


def test_camel_and_snake_case_bodies(client: TestClient) -> None:
    h = {"authorization": f"Bearer {api_key(client)}"}
    r = client.post("/api/accounts", json={"provider": "openai", "apiKey": "sk-camel-1234"}, headers=h)
    assert r.status_code == 201
    again = client.post("/api/accounts", json={"provider": "openai", "api_key": "sk-camel-1234"}, headers=h)
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    assert client.delete(f"/api/accounts/{r.json()['id']}", headers=h).status_code == 204


def test_routes_list_every_operation(client: TestClient) -> None:
    from gephyr_core.admin import catalog

    h = {"authorization": f"Bearer {api_key(client)}"}
    data = client.get("/api/version/routes", headers=h).json()
    assert {o["name"] for o in data["operations"]} == set(catalog())
    assert "GET /api/accounts/{id}" in data["routes"]
