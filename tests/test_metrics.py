"""Metrics: the Prometheus scrape matches the traffic sent, its auth, the snapshot, operator status."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from gephyr_core.admin import catalog, invoke
from gephyr_core.admin.context import open_context
from gephyr_core.monitor.prometheus import (
    CONTENT_TYPE,
    DURATION_BUCKETS,
    FIRST_BYTE_BUCKETS,
    account_state,
    cap_of,
    outcome_of,
)
from gephyr_core.monitor.record import Record
from gephyr_core.server import create_app
from gephyr_core.server.serve import prepare
from tests.cli_helpers import cli, start_server
from tests.emulators.script import Error, Reply
from tests.relay.harness import RelayServer, ask

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for k, v in samples.get(name, {}).items() if want <= set(k))


def scrape(url: str, key: str, until: Callable[[Samples], bool] = lambda s: True) -> Samples:
    """Scrape until `until` holds: a record is counted just after its last byte went out."""
    deadline = time.monotonic() + 5
    while True:
        r = httpx.get(url + "/metrics", headers={"authorization": f"Bearer {key}"}, timeout=10)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == CONTENT_TYPE
        samples = parse(r.text)
        if until(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.02)


def requests_seen(n: int) -> Callable[[Samples], bool]:
    return lambda s: total(s, "gephyr_requests_total") >= n


def ids(relay: RelayServer) -> dict[str, str]:
    with relay.ctx.store.reading() as db:  # the server's writer threads share the connection
        return {row["label"]: row["id"] for row in db.query("SELECT id, label FROM accounts")}


def chat(relay: RelayServer, model: str = "gpt-4o-mini", text: str = "hello there friend") -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": text}]}
    headers = {"authorization": f"Bearer {relay.api_key}"}
    return httpx.post(relay.url + "/v1/chat/completions", json=body, headers=headers, timeout=30)


def claude(relay: RelayServer, text: str, stream: bool = False) -> httpx.Response:
    body = {
        "model": "claude-emu-4",
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    }
    headers = {"x-api-key": relay.api_key, "anthropic-version": "2023-06-01"}
    return httpx.post(relay.url + "/v1/messages", json=body, headers=headers, timeout=30)


def gemini(relay: RelayServer, text: str) -> httpx.Response:
    body = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    url = relay.url + "/v1beta/models/gemini-2.5-flash:generateContent"
    return httpx.post(url, json=body, headers={"x-goog-api-key": relay.api_key}, timeout=30)


def sse_usage(text: str) -> tuple[int, int]:
    """(input, output) of an Anthropic stream: message_start then message_delta usage."""
    tokens_in = tokens_out = 0
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue
        event = json.loads(line[5:])
        if event.get("type") == "message_start":
            usage = event["message"]["usage"]
            tokens_in = usage["input_tokens"] + usage.get("cache_read_input_tokens", 0)
            tokens_out = usage.get("output_tokens", 0)
        elif event.get("type") == "message_delta":
            tokens_out = event["usage"]["output_tokens"]
    return tokens_in, tokens_out


def les(samples: Samples, name: str, **labels: str) -> list[str]:
    want = set(labels.items())
    return sorted({dict(k)["le"] for k in samples[name] if want <= set(k)}, key=lambda le: float(le))


# -- pure helpers --------------------------------------------------------------------------


def test_outcome_cap_and_state_labels() -> None:
    assert outcome_of("ok", 200) == "success"
    assert outcome_of("failed", 429) == "rate_limited"
    assert outcome_of("failed", 401) == outcome_of("failed", 403) == "auth_error"
    assert outcome_of("failed", 400) == "client_error"
    assert outcome_of("failed", 503) == "server_error"
    assert outcome_of("network_error", 502) == "network_error"
    assert cap_of("guard_refused: account cooldown, 4 s left") == "cooldown"
    assert cap_of("guard_refused: global requests-per-minute cap reached") == "global_rpm"
    assert cap_of("guard_refused: account requests-per-minute cap reached") == "account_rpm"
    assert cap_of("guard_refused: account concurrency cap reached") == "concurrency"
    base = {"secret": "x", "disabled": 0, "proxy_disabled": 0, "forbidden": 0, "validation_blocked": 0}
    assert account_state(base, False) == "routable"
    assert account_state(base, True) == "rate_limited"
    assert account_state({**base, "forbidden": 1}, True) == "forbidden"
    assert account_state({**base, "secret": ""}, False) == "disabled"


# -- the scrape against real traffic -------------------------------------------------------


def _mixed_traffic(relay: RelayServer) -> dict[str, list[int]]:
    """Six successes over the three protocols and two failures; the tokens each provider reported."""
    tokens = {"openai": [0, 0], "anthropic": [0, 0], "gemini": [0, 0]}
    for i in range(3):
        r = chat(relay, text="one two three " * (i + 1))
        assert r.status_code == 200
        tokens["openai"][0] += r.json()["usage"]["prompt_tokens"]
        tokens["openai"][1] += r.json()["usage"]["completion_tokens"]
    r = claude(relay, "tell me a story")
    assert r.status_code == 200
    tokens["anthropic"][0] += r.json()["usage"]["input_tokens"]
    tokens["anthropic"][1] += r.json()["usage"]["output_tokens"]
    r = claude(relay, "a streamed answer please", stream=True)
    assert r.status_code == 200
    streamed = sse_usage(r.text)
    tokens["anthropic"][0] += streamed[0]
    tokens["anthropic"][1] += streamed[1]
    r = gemini(relay, "hello gemini")
    assert r.status_code == 200
    usage = r.json()["usageMetadata"]
    tokens["gemini"][0] += usage["promptTokenCount"]
    tokens["gemini"][1] += usage["candidatesTokenCount"] + usage.get("thoughtsTokenCount", 0)
    assert chat(relay, model="no-such-model").status_code == 404  # refused before any account
    relay.emulators["openai"].push(Error(400, "that request is malformed"))
    assert chat(relay).status_code == 400
    return tokens


def test_request_counters_and_durations_match_the_traffic(relay_all: RelayServer) -> None:
    _mixed_traffic(relay_all)
    s = scrape(relay_all.url, relay_all.api_key, requests_seen(8))
    s = scrape(relay_all.url, relay_all.api_key)  # scrapes themselves are never counted
    req = "gephyr_requests_total"
    assert total(s, req) == 8
    assert total(s, req, protocol="openai", route="chat", status_class="2xx", model="gpt-4o-mini") == 3
    assert total(s, req, protocol="openai", route="chat", status_class="4xx", model="gpt-4o-mini") == 1
    assert total(s, req, protocol="openai", route="chat", status_class="4xx", model="no-such-model") == 1
    assert total(s, req, protocol="anthropic", route="messages", status_class="2xx") == 2
    assert total(s, req, protocol="gemini", route="generate", model="gemini-2.5-flash") == 1
    dur = "gephyr_request_duration_seconds"
    assert total(s, dur + "_count", protocol="openai", route="chat") == 5
    assert total(s, dur + "_count", protocol="anthropic", route="messages") == 2
    assert total(s, dur + "_bucket", protocol="gemini", route="generate", le="+Inf") == 1
    assert les(s, dur + "_bucket", protocol="openai") == [*map(str, map(float, DURATION_BUCKETS)), "+Inf"]
    snap = invoke(relay_all.ctx, catalog()["metrics.show"], {}).data
    assert snap["monitor"]["total_requests"] == 8
    assert (snap["monitor"]["success_count"], snap["monitor"]["error_count"]) == (6, 2)
    assert snap["runtime"]["accounts_total"] == 3 and snap["runtime"]["active_accounts"] == 3


def test_upstream_tokens_and_account_series_match_the_traffic(relay_all: RelayServer) -> None:
    acc = ids(relay_all)
    tokens = _mixed_traffic(relay_all)
    s = scrape(relay_all.url, relay_all.api_key, requests_seen(8))
    up = "gephyr_upstream_requests_total"
    assert total(s, up, provider="openai", account_id=acc["openai"], outcome="success") == 3
    assert total(s, up, provider="openai", account_id=acc["openai"], outcome="client_error") == 1
    assert total(s, up, provider="anthropic", account_id=acc["anthropic"], outcome="success") == 2
    assert total(s, up, provider="gemini", outcome="success") == 1
    assert total(s, up) == 7 and total(s, "gephyr_failovers_total") == 0
    lat = "gephyr_upstream_latency_seconds"
    assert total(s, lat + "_count", provider="openai", phase="total") == 3
    assert total(s, lat + "_count", provider="anthropic", phase="first_byte") == 2
    assert les(s, lat + "_bucket", phase="first_byte") == [*map(str, map(float, FIRST_BYTE_BUCKETS)), "+Inf"]
    assert les(s, lat + "_bucket", phase="total") == [*map(str, map(float, DURATION_BUCKETS)), "+Inf"]
    for provider, (tokens_in, tokens_out) in tokens.items():
        assert total(s, "gephyr_tokens_total", provider=provider, direction="input") == tokens_in
        assert total(s, "gephyr_tokens_total", provider=provider, direction="output") == tokens_out
    assert total(s, "gephyr_tokens_total", provider="openai", model="gpt-4o-mini") == sum(tokens["openai"])
    for provider in ("openai", "anthropic", "gemini"):
        assert total(s, "gephyr_accounts", provider=provider, state="routable") == 1
        assert total(s, "gephyr_accounts", provider=provider) == 1
        info = total(s, "gephyr_account_info", account_id=acc[provider], label=provider, provider=provider)
        assert info == 1
    assert total(s, "gephyr_build_info") == 1
    assert total(s, "gephyr_log_writes_dropped_total") == 0


def test_a_429_failover_and_rate_limit_events(two: RelayServer) -> None:
    acc = ids(two)
    assert ask(two).status_code == 200
    first = two.emulators["openai"].last_request.header("authorization") or ""
    bound = "b" if first.endswith("0002") else "a"
    other = "a" if bound == "b" else "b"
    two.emulators["openai"].push(Error(429, "Rate limit reached for requests", retry_after=30))
    assert ask(two).status_code == 200

    s = scrape(two.url, two.api_key, requests_seen(2))
    up = "gephyr_upstream_requests_total"
    assert total(s, up, account_id=acc[bound], outcome="success") == 1
    assert total(s, up, account_id=acc[bound], outcome="rate_limited") == 1
    assert total(s, up, account_id=acc[other], outcome="success") == 1
    assert total(s, "gephyr_failovers_total", provider="openai", reason="rate_limited") == 1
    assert total(s, "gephyr_failovers_total") == 1
    assert total(s, "gephyr_rate_limit_events_total", provider="openai", reason="RATE_LIMIT_EXCEEDED") == 1
    assert total(s, "gephyr_accounts", provider="openai", state="rate_limited") == 1
    assert total(s, "gephyr_accounts", provider="openai", state="routable") == 1
    assert total(s, "gephyr_session_bindings") >= 1

    snap = invoke(two.ctx, catalog()["metrics.show"], {}).data
    assert snap["rate_limits"] == {
        "circuit_breaker_enabled": True,
        "active_records": 1,
        "accounts_limited": 1,
    }
    assert snap["sticky"]["session_bindings_count"] >= 1 and snap["sticky"]["recent_events_count"] >= 1


def test_compliance_refusals_are_counted_by_cap(two: RelayServer) -> None:
    two.configure({"compliance": {"enabled": True, "max_account_requests_per_minute": 1}})
    assert ask(two).status_code == 200
    assert ask(two).status_code == 200  # the bound account is over its cap: refused, then the other
    s = scrape(two.url, two.api_key, requests_seen(2))
    assert total(s, "gephyr_compliance_refusals_total", cap="account_rpm") == 1
    assert total(s, "gephyr_compliance_refusals_total") == 1
    assert total(s, "gephyr_failovers_total", provider="openai", reason="compliance") == 1
    assert total(s, "gephyr_upstream_requests_total", outcome="success") == 2
    snap = invoke(two.ctx, catalog()["metrics.show"], {}).data["compliance"]
    assert snap["enabled"] is True and snap["max_account_requests_per_minute"] == 1
    assert snap["global_requests_in_last_minute"] == 2 and snap["tracked_accounts_last_minute"] == 2
    assert snap["total_account_requests_in_last_minute"] == 2


def test_streams_cut_after_commit_are_counted(relay_all: RelayServer) -> None:
    body = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"authorization": f"Bearer {relay_all.api_key}"}
    relay_all.emulators["openai"].push(Reply(text="one two three four five six seven", drop_after=3))
    cut = httpx.post(relay_all.url + "/v1/chat/completions", json=body, headers=headers, timeout=30)
    assert cut.status_code == 200 and "error" in cut.text
    whole = httpx.post(relay_all.url + "/v1/chat/completions", json=body, headers=headers, timeout=30)
    assert whole.status_code == 200 and "[DONE]" in whole.text
    s = scrape(relay_all.url, relay_all.api_key, requests_seen(2))
    assert total(s, "gephyr_streams_interrupted_total", provider="openai") == 1
    assert total(s, "gephyr_streams_interrupted_total") == 1


def test_the_model_label_is_capped(relay_all: RelayServer) -> None:
    relay_all.configure({"metrics": {"max_model_labels": 2}, "monitor": {"enabled": False}})
    assert chat(relay_all).status_code == 200
    assert claude(relay_all, "hello").status_code == 200
    assert gemini(relay_all, "hello").status_code == 200
    s = scrape(relay_all.url, relay_all.api_key, requests_seen(3))  # counted with logging off too
    models = {dict(k)["model"] for k in s["gephyr_requests_total"]}
    assert models == {"gpt-4o-mini", "claude-emu-4", "other"}
    assert total(s, "gephyr_tokens_total", provider="gemini", model="other") > 0


def test_dropped_log_writes_reach_metrics_snapshot_and_status(relay_server: RelayServer) -> None:
    relay_server.configure({"monitor": {"queue_size": 100}})
    monitor = relay_server.app.app.state.runtime.monitor
    monitor.slowdown = 0.5  # the writer holds each batch: the queue overflows
    try:
        for _ in range(150):
            monitor.submit(Record(time.time(), "POST", "/v1/chat/completions", "", {}, status=200))
        dropped = monitor.dropped
        assert dropped > 0
        s = scrape(relay_server.url, relay_server.api_key)
        assert total(s, "gephyr_log_writes_dropped_total") == dropped
        snap = invoke(relay_server.ctx, catalog()["metrics.show"], {}).data
        assert snap["monitor"]["dropped_log_writes"] == dropped
        status = invoke(relay_server.ctx, catalog()["server.operator_status"], {}).data
        assert status["monitor"]["droppedLogWrites"] == dropped
        assert any("dropped" in w for w in status["warnings"])
    finally:
        monitor.slowdown = 0.0


# -- auth, IP filter, switches (in-process) ------------------------------------------------

PASSWORD = "metrics-admin-password-0123"


@pytest.fixture
def app(data_dir: Path) -> Iterator[TestClient]:
    with _client(data_dir) as client:
        yield client


def _client(data_dir: Path, **overrides: Any) -> TestClient:
    ctx = open_context(data_dir, {})
    merged = {
        "admin.enabled": True,
        "auth.trusted_proxies": ["127.0.0.1"],
        "auth.admin_password": PASSWORD,
        **overrides,
    }
    ctx.overrides = merged
    rt = prepare(ctx, merged, lambda line: None)
    return TestClient(create_app(rt, watch_interval=0.05), client=("127.0.0.1", 5000))


def _bearer(secret: str, ip: str = "1.2.3.4") -> dict[str, str]:
    return {"authorization": f"Bearer {secret}", "x-forwarded-for": ip}


def test_metrics_auth_ip_filter_and_security_counters(app: TestClient) -> None:
    rt = app.app.app.state.runtime  # type: ignore[attr-defined]
    key = str(rt.settings.get("auth.api_key"))
    assert app.get("/metrics").status_code == 401
    refused = app.get("/metrics", headers=_bearer("sk-wrong"))
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert app.get("/metrics", headers=_bearer(key)).status_code == 200
    assert app.get("/metrics", headers=_bearer(PASSWORD)).status_code == 200
    token = app.post("/api/user-tokens", json={"username": "ann"}, headers=_bearer(PASSWORD)).json()["token"]
    assert app.get("/v1/models", headers=_bearer(token)).status_code == 200  # a valid token…
    assert app.get("/metrics", headers=_bearer(token)).status_code == 401  # …is refused here
    assert app.get("/api/accounts", headers=_bearer("nope")).status_code == 401  # an admin auth failure

    app.post("/api/security/blacklist", json={"ipPattern": "6.6.6.6"}, headers=_bearer(PASSWORD))
    app.post(
        "/api/security/config", json={"config": {"blacklist": {"enabled": True}}}, headers=_bearer(PASSWORD)
    )
    assert app.get("/metrics", headers=_bearer(key, "6.6.6.6")).status_code == 403  # the IP filter applies
    assert app.post("/api/proxy/stop", headers=_bearer(PASSWORD)).status_code == 200
    ok = app.get("/metrics", headers=_bearer(key))  # answers while the relay is stopped
    assert ok.status_code == 200 and ok.headers["content-type"] == CONTENT_TYPE
    s = parse(ok.text)
    assert total(s, "gephyr_ip_blocked_total", list="blacklist") == 1
    assert total(s, "gephyr_ip_blocked_total", list="whitelist") == 0
    assert total(s, "gephyr_admin_auth_failures_total") == 1
    assert total(s, "gephyr_requests_total", route="models") == 1  # /metrics itself is never counted
    assert set(dict(k)["result"] for k in s["gephyr_oauth_refresh_total"]) == {
        "success",
        "invalid_grant",
        "error",
    }
    assert rt.monitor.total_requests == 1  # nor logged


def test_metrics_switches(data_dir: Path) -> None:
    with _client(data_dir, **{"metrics.require_auth": False}) as open_app:
        assert open_app.get("/metrics").status_code == 200
    with _client(data_dir, **{"metrics.enabled": False}) as off:
        key = str(off.app.app.state.runtime.settings.get("auth.api_key"))  # type: ignore[attr-defined]
        gone = off.get("/metrics", headers=_bearer(key))
        assert gone.status_code == 404 and "metrics.enabled" in gone.json()["error"]["message"]


# -- the snapshot, --remote, the CLI and operator status with a real server ----------------

SECTIONS = {
    "runtime": {
        "running",
        "port",
        "uptime_seconds",
        "active_accounts",
        "accounts_total",
        "request_timeout",
        "effective_request_timeout",
    },
    "monitor": {
        "enabled",
        "total_requests",
        "success_count",
        "error_count",
        "queue_depth",
        "dropped_log_writes",
    },
    "sticky": {
        "persist_session_bindings",
        "scheduling_mode",
        "scheduling_max_wait_seconds",
        "session_bindings_count",
        "recent_events_count",
    },
    "rate_limits": {"circuit_breaker_enabled", "active_records", "accounts_limited"},
    "proxy_pool": {
        "enabled",
        "auto_failover",
        "allow_shared_proxy_fallback",
        "require_proxy_for_account_requests",
        "strategy",
        "configured_proxies",
        "healthy_proxies",
        "account_bindings_count",
        "shared_fallback_selections_total",
        "strict_rejections_total",
    },
    "compliance": {
        "enabled",
        "max_global_requests_per_minute",
        "max_account_requests_per_minute",
        "max_account_concurrency",
        "risk_cooldown_seconds",
        "max_retry_attempts",
        "global_requests_in_last_minute",
        "tracked_accounts_last_minute",
        "total_account_requests_in_last_minute",
        "tracked_accounts_in_flight",
        "total_account_in_flight",
        "accounts_in_cooldown",
        "risk_signals_last_minute",
        "account_switches_last_minute",
        "accounts_with_403_in_last_minute",
        "accounts_with_429_in_last_minute",
        "account_403_in_last_minute",
        "account_429_in_last_minute",
        "refresh_attempts_last_minute",
        "refresh_attempts_by_account_last_minute",
        "scheduler_refresh_runs_last_minute",
        "scheduler_refresh_failures_last_minute",
        "scheduler_refresh_accounts_attempted_last_minute",
    },
}


def _steady(snap: dict[str, Any]) -> dict[str, Any]:
    return {**snap, "timestamp_unix": 0, "runtime": {**snap["runtime"], "uptime_seconds": 0}}


def test_snapshot_remote_parity_cli_and_operator_status(tmp_path: Path) -> None:
    data = tmp_path / "served"
    env = {"GEPHYR_DATA_DIR": str(data)}
    down = cli("metrics", "show", env=env)
    assert down.exit_code == 6 and down.stdout == ""
    assert len(down.stderr.strip().splitlines()) == 1 and "no server running" in down.stderr
    local_status = json.loads(cli("--json", "server", "doctor", env=env).stdout)
    assert local_status["monitor"]["queueDepth"] is None and local_status["oauthFlow"] is None
    assert local_status["proxyPool"]["proxiesHealthy"] is None and local_status["runtimeRunning"] is None

    srv = start_server(data, "--admin")
    try:
        key = cli("config", "get", "auth.api_key", "--reveal", env=env).stdout.strip()
        api = httpx.get(
            srv.url + "/api/proxy/metrics", headers={"authorization": f"Bearer {key}"}, timeout=10
        )
        assert api.status_code == 200
        snap = api.json()
        assert set(snap) == {"timestamp_unix", "version", *SECTIONS, "runtime_apply_policies_supported"}
        for section, keys in SECTIONS.items():
            assert set(snap[section]) == keys, section
        assert snap["runtime"]["port"] == srv.info["port"] and snap["runtime"]["running"] is True
        assert snap["runtime"]["effective_request_timeout"] == max(snap["runtime"]["request_timeout"], 5)
        assert snap["runtime_apply_policies_supported"] == [
            "always_hot_applied",
            "hot_applied_when_safe",
            "requires_restart",
        ]
        remote = cli("--remote", srv.url, "--admin-key", key, "--json", "metrics", "show")
        local = cli("--json", "metrics", "show", env=env)
        assert remote.exit_code == local.exit_code == 0
        assert _steady(json.loads(remote.stdout)) == _steady(json.loads(local.stdout)) == _steady(snap)
        human = cli("metrics", "show", env=env)
        assert (
            human.exit_code == 0
            and "Compliance guard" in human.stdout
            and "Egress proxy pool" in human.stdout
        )

        scraped = parse(httpx.get(srv.url + "/metrics", headers={"authorization": f"Bearer {key}"}).text)
        assert total(scraped, "gephyr_build_info") == 1

        status = json.loads(cli("--json", "server", "doctor", env=env).stdout)
        assert status["runtimeRunning"] is True and status["runtimePort"] == srv.info["port"]
        assert isinstance(status["uptimeSeconds"], int)
        assert status["monitor"]["queueDepth"] == 0 and status["monitor"]["droppedLogWrites"] == 0
        assert status["proxyPool"]["proxiesHealthy"] == 0 and status["oauthFlow"]["phase"] == "idle"
        assert not any("dropped" in w or "stopped" in w for w in status["warnings"])
        cli("server", "stop", env=env)
        stopped = json.loads(cli("--json", "server", "doctor", env=env).stdout)
        assert any("stopped" in w for w in stopped["warnings"])
    finally:
        assert srv.stop() == 0


def test_in_flight_gauge_follows_open_requests(relay_all: RelayServer) -> None:
    relay_all.emulators["openai"].push(Reply("slow answer", delay=1.5))
    answered: list[int] = []
    worker = threading.Thread(target=lambda: answered.append(chat(relay_all).status_code))
    worker.start()
    try:
        during = scrape(
            relay_all.url, relay_all.api_key, lambda s: total(s, "gephyr_requests_in_flight") == 1
        )
        assert total(during, "gephyr_requests_in_flight") == 1
    finally:
        worker.join(10)
    assert answered == [200]
    after = scrape(relay_all.url, relay_all.api_key, requests_seen(1))
    assert total(after, "gephyr_requests_in_flight") == 0
