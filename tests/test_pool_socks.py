"""SOCKS5 egress through a real SOCKS server (pproxy on loopback): relay, probe and health check."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gephyr_core.admin import catalog, invoke
from tests.proxy_process import ProxyProcess
from tests.relay.harness import MODEL, RelayServer
from tests.relay.test_media_fetch import image_url  # noqa: F401
from tests.test_pool_relay import check_target, trigger  # noqa: F401

pytest.importorskip("pproxy", reason="pproxy is in the test extra")

# pproxy installs uvloop when it can, and uvloop refuses pproxy's `get_event_loop()` outside a loop:
# start it on a plain asyncio loop instead.
LAUNCH = (
    "import asyncio, sys; sys.modules['uvloop'] = None; asyncio.set_event_loop(asyncio.new_event_loop());"
    " from pproxy.server import main; main(sys.argv[1:])"
)


class SocksProxy(ProxyProcess):
    """A pproxy SOCKS5 server; with -v it logs one `socks5 <client> -> <host:port>` line per connection."""

    def __init__(self, tmp: Path) -> None:
        argv = [sys.executable, "-u", "-c", LAUNCH, "-l", "socks5://127.0.0.1:{port}", "-v"]
        super().__init__(tmp, "socks", argv)
        self.url = f"socks5://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while "Serving on" not in self.log_text():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"pproxy did not start: {self.log_text()}")
            time.sleep(0.05)

    def connections(self, target: str) -> int:
        """How many connections the server opened to `target` (host:port) for its clients."""
        return sum(1 for line in self.log_text().splitlines() if line.endswith(f"-> {target}"))


@pytest.fixture
def socks_proxy(tmp_path: Path) -> Iterator[SocksProxy]:
    proxy = SocksProxy(tmp_path)
    try:
        yield proxy
    finally:
        proxy.kill()


def chat(server: RelayServer) -> httpx.Response:
    body = {"model": MODEL["openai"], "messages": [{"role": "user", "content": "hi"}]}
    headers = {"authorization": f"Bearer {server.api_key}"}
    return httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=headers, timeout=30)


def call(server: RelayServer, name: str, **kwargs: Any) -> Any:
    return invoke(server.ctx, catalog()[name], kwargs).data


def test_relay_probe_and_health_check_through_socks5(
    relay_server: RelayServer,
    socks_proxy: SocksProxy,
    check_target: str,  # noqa: F811
) -> None:
    emulator = relay_server.emulators["openai"]
    emu = emulator.url.removeprefix("http://")
    account = relay_server.add_account("openai")
    pool = {"enabled": True, "health_check_url": f"{check_target}/generate_204"}
    relay_server.configure({"pool": {**pool, "proxies": [{"id": "socks", "url": socks_proxy.url}]}})
    call(relay_server, "pool.bind", account_id=account["id"], proxy_id="socks")
    rt = relay_server.app.app.state.runtime
    rt.poll_once()

    assert trigger(relay_server)["proxies"][0]["is_healthy"] is True
    assert socks_proxy.connections(check_target.removeprefix("http://")) == 1
    assert chat(relay_server).status_code == 200
    assert socks_proxy.connections(emu) == 1  # the relay's pooled async client
    assert call(relay_server, "accounts.quota", id=account["id"])["source"] == "probe"
    assert socks_proxy.connections(emu) == 2  # the blocking client of the same route
    assert rt.pool.counters.selections["socks"] == 2

    socks_proxy.kill()
    before = len(emulator.requests)
    assert chat(relay_server).status_code == 502  # bound, not yet known down: never goes direct
    assert len(emulator.requests) == before
    view = trigger(relay_server)["proxies"][0]
    assert view["is_healthy"] is False and view["last_error"]
    assert chat(relay_server).status_code == 200  # known down: fails over (no proxy required)


def test_gemini_media_urls_are_fetched_on_the_accounts_route(
    relay_server: RelayServer,
    socks_proxy: SocksProxy,
    image_url: str,  # noqa: F811
) -> None:
    account = relay_server.add_account("gemini")
    proxies = [{"id": "socks", "url": socks_proxy.url}]
    relay_server.configure(
        {"pool": {"enabled": True, "proxies": proxies}, "protocols": {"fetch_private_addresses": True}}
    )
    call(relay_server, "pool.bind", account_id=account["id"], proxy_id="socks")
    relay_server.app.app.state.runtime.poll_once()
    content = [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": f"{image_url}/cat.png"}},
    ]
    body = {"model": MODEL["gemini"], "messages": [{"role": "user", "content": content}]}
    headers = {"authorization": f"Bearer {relay_server.api_key}"}
    r = httpx.post(f"{relay_server.url}/v1/chat/completions", json=body, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    assert (
        socks_proxy.connections(image_url.removeprefix("http://")) == 1
    )  # the image, via the account's proxy
    assert socks_proxy.connections(relay_server.emulators["gemini"].url.removeprefix("http://")) == 1
