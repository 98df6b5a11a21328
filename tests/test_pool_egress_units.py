"""Blocking egress clients and the routing of account calls outside the relay (no network)."""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from gephyr_core.errors import GephyrError
from gephyr_core.pool.egress import UNBOUND, EgressHttp
from gephyr_core.pool.router import Health, PoolRejected
from gephyr_core.relay.http import DIRECT, ClientPool, ProxyEndpoint
from gephyr_core.store import open_store
from gephyr_core.store import pool as pool_table
from tests.test_pool_units import proxies, router


def test_sync_clients_are_pooled_per_route_and_retired_when_idle() -> None:
    pool = ClientPool()
    proxy = ProxyEndpoint("http://127.0.0.1:9")
    first = pool.sync("proxy:a:1", proxy)
    assert pool.sync("proxy:a:1", proxy) is first and pool.sync(DIRECT) is not first
    pool.sync_ended("proxy:a:1")  # one of the two uses of route a is still in flight
    pool.sync_ended(DIRECT)
    pool.retire({"proxy:a:2"})  # a's credentials changed: new key, old clients retired
    pool.sweep_sync()
    assert not first.is_closed  # still in flight: kept open
    assert pool.sync("proxy:a:2", proxy) is not first  # the new key gets its own client
    pool.sync_ended("proxy:a:1")  # the last call on the old client ended
    pool.retire(set())
    asyncio.run(pool.sweep())
    assert first.is_closed
    survivor = pool.sync(DIRECT)
    asyncio.run(pool.aclose())
    assert survivor.is_closed


def test_account_routes_count_fallback_and_rejections() -> None:
    r = router({"proxies": proxies(("a", 0)), "allow_shared_proxy_fallback": True})
    r.bindings = {"bound": "a"}
    http = EgressHttp(r)
    assert http.route("bound").kind == "bound"
    assert http.route("other").kind == "shared_fallback"  # the only proxy is bound: shared anyway
    assert r.metrics()["shared_fallback_selections_total"] == 1
    strict = router(
        {"proxies": proxies(("a", 0)), "require_proxy_for_account_requests": True, "auto_failover": True}
    )
    strict.health["a"] = Health(is_healthy=False)
    http = EgressHttp(strict)
    with pytest.raises(PoolRejected) as info:
        http.request(UNBOUND, "GET", "http://127.0.0.1:9/", timeout=1)
    assert isinstance(info.value, GephyrError) and info.value.code == "upstream_unreachable"
    assert http.route(None).kind == "direct"  # a call made for no account is never refused
    assert strict.metrics()["strict_rejections_total"] == 1


def test_local_routes_read_the_bindings_of_the_data_dir(tmp_path: Path) -> None:
    store = open_store(tmp_path / "gephyr.db")
    try:
        pool_table.bind(store, "acc", "b", 0)
        r = router({"proxies": proxies(("a", 0), ("b", 5))})
        http = EgressHttp.local(store, r._settings)
        assert http.route("acc").proxy_id == "b"  # bound, though a has the better priority
        assert http.route("someone").proxy_id == "a"
    finally:
        store.close()


def test_calls_leave_by_the_chosen_proxy_and_release_it() -> None:
    """The short-lived (local) client and the pooled one both send through the route's proxy."""
    seen: list[str] = []
    done = threading.Event()

    def serve(conn: Any) -> None:
        data = conn.recv(65536).decode()
        seen.append(data.split("\r\n", 1)[0])
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        conn.close()

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def loop() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            serve(conn)
        done.set()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        r = router({"proxies": [{"id": "p", "url": f"http://127.0.0.1:{port}"}]})
        clients = ClientPool()
        for http in (EgressHttp(r), EgressHttp(r, clients)):
            response = http.request("acc", "GET", "http://upstream.invalid/models", timeout=5)
            assert isinstance(response, httpx.Response) and response.text == "ok"
        assert done.wait(5)
        assert seen == ["GET http://upstream.invalid/models HTTP/1.1"] * 2  # absolute form: a proxy request
        assert r.counters.selections["p"] == 2 and r.counters.in_flight["p"] == 0
        clients.retire(set())
        clients.sweep_sync()
    finally:
        listener.close()
        thread.join(timeout=5)
