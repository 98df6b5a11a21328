"""Bad input against a running relay: every case gets its documented answer and the server keeps serving.

Each case runs against a fresh relay (uvicorn on loopback with the three provider emulators)
that trusts 127.0.0.1 as a reverse proxy, so `X-Forwarded-For` stands for distinct clients.
README "Security" counts these cases.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gephyr_core.admin import catalog, invoke
from tests.cli_helpers import cli_json, start_server
from tests.relay.harness import MODEL, RelayServer

Case = Callable[[RelayServer, httpx.Client], None]
CASES: dict[str, Case] = {}
CHAT = {"model": MODEL["openai"], "messages": [{"role": "user", "content": "hi"}]}


def case(fn: Case) -> Case:
    CASES[fn.__name__] = fn
    return fn


def op(srv: RelayServer, name: str, **kwargs: Any) -> Any:
    return invoke(srv.ctx, catalog()[name], kwargs).data


def key(srv: RelayServer, **extra: str) -> dict[str, str]:
    return {"authorization": f"Bearer {srv.api_key}", **extra}


def token(srv: RelayServer, **fields: Any) -> dict[str, Any]:
    return dict(op(srv, "tokens.create", username="mallory", **fields))


def chat(c: httpx.Client, headers: dict[str, str], body: Any = None) -> httpx.Response:
    return c.post("/v1/chat/completions", json=CHAT if body is None else body, headers=headers)


def openai_error(r: httpx.Response, status: int, type_: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["type"] == type_, err
    return dict(err)


# -- credentials -------------------------------------------------------------------------------
@case
def missing_key(srv: RelayServer, c: httpx.Client) -> None:
    r = chat(c, {})
    openai_error(r, 401, "authentication_error")
    assert r.headers["www-authenticate"] == "Bearer"


@case
def wrong_key_in_every_header(srv: RelayServer, c: httpx.Client) -> None:
    for headers in ({"authorization": "Bearer sk-wrong"}, {"x-api-key": "sk-wrong"}, {"x-goog-api-key": "x"}):
        openai_error(chat(c, headers), 401, "authentication_error")
    gem = c.post(f"/v1beta/models/{MODEL['gemini']}:generateContent?key=wrong", json={})
    assert gem.status_code == 401 and gem.json()["error"]["status"] == "UNAUTHENTICATED"


@case
def admin_password_is_not_a_relay_key(srv: RelayServer, c: httpx.Client) -> None:
    srv.configure({"auth": {"admin_password": "hunter2-hunter2"}})
    openai_error(chat(c, {"authorization": "Bearer hunter2-hunter2"}), 401, "authentication_error")


@case
def expired_token(srv: RelayServer, c: httpx.Client) -> None:
    t = token(srv, expires_type="day")
    with srv.ctx.store.transaction(change=True) as db:
        db.execute("UPDATE user_tokens SET expires_at = ? WHERE id = ?", [int(time.time()) - 5, t["id"]])
    srv.ctx.records_changed()
    assert (
        "expired" in openai_error(chat(c, {"x-api-key": t["token"]}), 401, "authentication_error")["message"]
    )


@case
def disabled_token(srv: RelayServer, c: httpx.Client) -> None:
    t = token(srv)
    assert chat(c, {"x-api-key": t["token"]}).status_code == 200
    op(srv, "tokens.update", id=t["id"], body={"enabled": False})
    claude = c.post(
        "/v1/messages", json={}, headers={"x-api-key": t["token"], "anthropic-version": "2023-06-01"}
    )
    assert claude.status_code == 401 and claude.json()["error"]["type"] == "authentication_error"


@case
def deleted_token(srv: RelayServer, c: httpx.Client) -> None:
    t = token(srv)
    op(srv, "tokens.delete", id=t["id"])
    openai_error(chat(c, {"x-api-key": t["token"]}), 401, "authentication_error")


@case
def curfew_violation(srv: RelayServer, c: httpx.Client) -> None:
    now = time.localtime()
    minute = now.tm_hour * 60 + now.tm_min

    def hhmm(m: int) -> str:
        return f"{(m // 60) % 24:02d}:{m % 60:02d}"

    t = token(srv, curfew_start=hhmm(minute - 5 + 1440), curfew_end=hhmm(minute + 5))
    assert "curfew" in openai_error(chat(c, {"x-api-key": t["token"]}), 403, "permission_error")["message"]


@case
def ip_cap_violation(srv: RelayServer, c: httpx.Client) -> None:
    t = token(srv, max_ips=2)
    for ip in ("1.1.1.1", "2.2.2.2", "1.1.1.1"):
        assert chat(c, {"x-api-key": t["token"], "x-forwarded-for": ip}).status_code == 200
    err = openai_error(
        chat(c, {"x-api-key": t["token"], "x-forwarded-for": "3.3.3.3"}), 403, "permission_error"
    )
    assert "limit 2" in err["message"]
    op(srv, "tokens.clear_ips", id=t["id"])
    assert chat(c, {"x-api-key": t["token"], "x-forwarded-for": "3.3.3.3"}).status_code == 200


@case
def user_token_on_admin_api(srv: RelayServer, c: httpx.Client) -> None:
    t = token(srv)
    r = c.get("/api/accounts", headers={"authorization": f"Bearer {t['token']}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"


# -- client IP and the IP filter ----------------------------------------------------------------
def _blacklist(srv: RelayServer, *patterns: str) -> None:
    for pattern in patterns:
        op(srv, "security.blacklist.add", ip_pattern=pattern, reason="attack test")
    op(srv, "security.config.set", body={"blacklist": {"enabled": True}})


@case
def forged_forwarded_for_from_untrusted_peer(srv: RelayServer, c: httpx.Client) -> None:
    # A real `gephyr serve` (no trusted proxies by default): X-Forwarded-For from the
    # loopback peer is ignored, so neither the IP cap nor the blacklist can be dodged.
    served = start_server(srv.ctx.dd.root.parent / "served")
    try:
        env = {"GEPHYR_DATA_DIR": str(served.data_dir)}
        t = cli_json("tokens", "create", "mallory", "--max-ips", "1", env=env)
        cli_json("security", "blacklist", "add", "127.0.0.1", env=env)
        with httpx.Client(base_url=served.url, timeout=10) as client:
            for forged in ("9.9.9.1", "9.9.9.2"):
                r = client.get("/v1/models", headers={"x-api-key": t["token"], "x-forwarded-for": forged})
                assert r.status_code == 200, r.text
            cli_json("security", "config", "set", "--blacklist", env=env)
            blocked = client.get(
                "/v1/models", headers={"x-api-key": t["token"], "x-forwarded-for": "8.8.8.8"}
            )
            assert blocked.status_code == 403 and blocked.json()["error"]["ip"] == "127.0.0.1"
        assert [b["ip_address"] for b in cli_json("tokens", "ips", t["id"], env=env)] == ["127.0.0.1"]
    finally:
        assert served.stop() == 0


@case
def blocked_exact_ip(srv: RelayServer, c: httpx.Client) -> None:
    _blacklist(srv, "6.6.6.6")
    err = openai_error(chat(c, key(srv, **{"x-forwarded-for": "6.6.6.6"})), 403, "ip_blocked")
    assert err["code"] == "ip_blocked" and err["ip"] == "6.6.6.6" and "permanent" in err["message"]


@case
def blocked_cidr_ip(srv: RelayServer, c: httpx.Client) -> None:
    _blacklist(srv, "2001:db8::/32", "10.20.0.0/16")
    assert chat(c, key(srv, **{"x-forwarded-for": "10.20.3.4"})).status_code == 403
    gem = c.post(
        f"/v1beta/models/{MODEL['gemini']}:generateContent",
        json={},
        headers=key(srv, **{"x-forwarded-for": "[2001:db8::7]:443"}),
    )
    assert gem.status_code == 403 and gem.json()["error"]["status"] == "PERMISSION_DENIED"
    assert chat(c, key(srv, **{"x-forwarded-for": "10.21.0.1"})).status_code == 200


@case
def allow_list_mode(srv: RelayServer, c: httpx.Client) -> None:
    op(srv, "security.whitelist.add", ip_pattern="192.0.2.0/24")
    op(srv, "security.config.set", body={"whitelist": {"enabled": True}})
    assert chat(c, key(srv, **{"x-forwarded-for": "192.0.2.9"})).status_code == 200
    assert (
        "allow-list"
        in openai_error(chat(c, key(srv, **{"x-forwarded-for": "8.8.4.4"})), 403, "ip_blocked")["message"]
    )


# -- bodies and headers -------------------------------------------------------------------------
@case
def oversized_body_by_length(srv: RelayServer, c: httpx.Client) -> None:
    srv.configure({"server": {"max_body_size": 4096}})
    r = c.post("/v1/chat/completions", content=b"{" + b" " * 10000 + b"}", headers=key(srv))
    err = openai_error(r, 413, "invalid_request_error")
    assert err["code"] == "request_too_large"


@case
def oversized_chunked_body(srv: RelayServer, c: httpx.Client) -> None:
    srv.configure({"server": {"max_body_size": 4096}})

    def chunks() -> Any:
        for _ in range(20):
            yield b" " * 1024

    r = c.post("/v1/messages", content=chunks(), headers=key(srv, **{"anthropic-version": "2023-06-01"}))
    assert r.status_code == 413 and r.json()["error"]["type"] == "request_too_large"
    admin = c.post("/api/config", content=chunks(), headers=_admin(srv))
    assert admin.status_code == 413 and admin.json()["error"]["code"] == "payload_too_large"


@case
def non_json_bodies(srv: RelayServer, c: httpx.Client) -> None:
    for raw in (b"not json", b"\xff\xfe\x00", b"[1, 2]", b'"a string"', b""):
        openai_error(
            c.post("/v1/chat/completions", content=raw, headers=key(srv)), 400, "invalid_request_error"
        )
        claude = c.post("/v1/messages", content=raw, headers=key(srv))
        assert claude.status_code == 400 and claude.json()["error"]["type"] == "invalid_request_error"
        gem = c.post(f"/v1beta/models/{MODEL['gemini']}:generateContent", content=raw, headers=key(srv))
        assert gem.status_code == 400 and gem.json()["error"]["status"] == "INVALID_ARGUMENT"


@case
def deeply_nested_json(srv: RelayServer, c: httpx.Client) -> None:
    for depth in (100000, 5000, 900):
        nested = b'{"model": "gpt-4o-mini", "messages": ' + b"[" * depth + b"]" * depth + b"}"
        r = c.post("/v1/chat/completions", content=nested, headers=key(srv))
        assert r.status_code == 400, (depth, r.text)
        admin = c.post(
            "/api/config", content=b'{"config": ' + b"[" * depth + b"]" * depth + b"}", headers=_admin(srv)
        )
        assert admin.status_code == 400 and admin.json()["error"]["code"] == "bad_request"


@case
def huge_headers(srv: RelayServer, c: httpx.Client) -> None:
    try:
        r = chat(c, key(srv, **{"x-junk": "a" * 200_000}))
    except httpx.HTTPError:
        return  # the listener may drop the connection: also a refusal, and the server stays up
    assert r.status_code in (200, 400, 413, 431), r.status_code
    many = {f"x-h{i}": "v" * 100 for i in range(500)}
    assert chat(c, key(srv, **many)).status_code in (200, 400, 431)


@case
def path_traversal_in_import_paths(srv: RelayServer, c: httpx.Client) -> None:
    for path in ("../../etc/passwd", "/etc/../etc/shadow", "/etc/passwd", str(srv.ctx.dd.db_path)):
        r = c.post("/api/accounts/import/db", json={"path": path}, headers=_admin(srv))
        assert r.status_code == 400 and r.json()["error"]["code"] == "illegal_path", (path, r.text)
    r = c.post("/api/accounts/import", json={"path": "../secret.json"}, headers=_admin(srv))
    assert r.status_code == 400 and r.json()["error"]["code"] in ("illegal_path", "unsupported_format")


@case
def path_traversal_in_urls(srv: RelayServer, c: httpx.Client) -> None:
    for raw in (
        "/v1/models/..%2F..%2Fapi%2Faccounts",
        "/v1/%2e%2e/api/accounts",
        "/v1beta/models/%00:generateContent",
    ):
        r = c.get(raw, headers=key(srv))
        assert r.status_code in (400, 404, 405), (raw, r.status_code)
        assert "Traceback" not in r.text


# -- admin brute force and CORS -----------------------------------------------------------------
def _admin(srv: RelayServer) -> dict[str, str]:
    return key(srv)


@case
def admin_brute_force_lockout(srv: RelayServer, c: httpx.Client) -> None:
    srv.configure({"admin": {"lockout_max_failures": 5, "lockout_seconds": 1}})
    attacker = {"x-forwarded-for": "203.0.113.66"}
    for i in range(5):
        assert (
            c.get("/api/accounts", headers={**attacker, "authorization": f"Bearer guess{i}"}).status_code
            == 401
        )
    locked = c.get("/api/accounts", headers={**_admin(srv), **attacker})
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "auth_locked_out"
    assert locked.headers["retry-after"] == "1"
    assert c.get("/api/accounts", headers=_admin(srv)).status_code == 200  # other clients unaffected
    time.sleep(1.1)
    assert c.get("/api/accounts", headers={**_admin(srv), **attacker}).status_code == 200


@case
def cors_preflights(srv: RelayServer, c: httpx.Client) -> None:
    pre = {"access-control-request-method": "POST", "access-control-request-headers": "authorization"}
    ok = c.options("/v1/chat/completions", headers={"origin": "http://localhost:3000", **pre})
    assert ok.status_code == 204 and ok.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "access-control-allow-credentials" not in ok.headers
    foreign = c.options("/v1/chat/completions", headers={"origin": "https://attacker.example", **pre})
    assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers
    lookalike = c.options(
        "/api/accounts", headers={"origin": "http://localhost:3000.attacker.example", **pre}
    )
    assert "access-control-allow-origin" not in lookalike.headers
    simple = chat(c, key(srv, origin="https://attacker.example"))
    assert simple.status_code == 200 and "access-control-allow-origin" not in simple.headers


@case
def stopped_relay(srv: RelayServer, c: httpx.Client) -> None:
    op(srv, "server.stop")
    r = chat(c, key(srv))
    assert r.status_code == 503 and r.json()["error"]["code"] == "service_disabled"
    assert c.get("/api/proxy/status", headers=_admin(srv)).json()["running"] is False
    op(srv, "server.start")


def _still_serving(srv: RelayServer, c: httpx.Client) -> None:
    assert c.get("/health").status_code == 200
    ok = chat(c, key(srv, **{"x-forwarded-for": "192.0.2.1"}))
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"] == "echo: hi"


@pytest.mark.parametrize("name", sorted(CASES))
def test_attack(relay_all: RelayServer, name: str) -> None:
    relay_all.configure({"admin": {"enabled": True}, "auth": {"trusted_proxies": ["127.0.0.1"]}})
    with httpx.Client(base_url=relay_all.url, timeout=30) as client:
        CASES[name](relay_all, client)
        # Clean up what a case may have switched on, then prove the relay still serves.
        op(
            relay_all,
            "security.config.set",
            body={"blacklist": {"enabled": False}, "whitelist": {"enabled": False}},
        )
        _still_serving(relay_all, client)
        assert "Traceback" not in client.get("/v1/models", headers=key(relay_all)).text
