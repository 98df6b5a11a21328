"""Relay traffic through a real forward proxy (proxy.py on loopback), health checks, fail-closed."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gephyr_core.admin import catalog, invoke
from tests.emulators.server import run_app
from tests.proxy_process import ProxyProcess
from tests.relay.harness import MODEL, RelayServer

pytest.importorskip("proxy", reason="proxy.py is in the test extra")


class ForwardProxy(ProxyProcess):
    """A proxy.py process; its log is the access log (one line per proxied request)."""

    def __init__(self, tmp: Path) -> None:
        argv = [sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", "{port}"]
        argv += ["--num-workers", "1", "--num-acceptors", "1", "--timeout", "1"]
        super().__init__(tmp, "proxy", argv)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"proxy.py did not start: {self.log_text()}") from None
                time.sleep(0.1)

    def seen(self, fragment: str) -> bool:
        """True once an access-log line mentions `fragment`.

        proxy.py logs a request when its client connection closes: idle pooled connections are
        dropped after `--timeout 1`, so the line comes within seconds.
        """
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if any(" - " in line and fragment in line for line in self.log_text().splitlines()):
                return True
            time.sleep(0.05)
        return False


@pytest.fixture
def forward_proxy(tmp_path: Path) -> Iterator[ForwardProxy]:
    proxy = ForwardProxy(tmp_path)
    try:
        yield proxy
    finally:
        proxy.kill()


@pytest.fixture
def check_target() -> Iterator[str]:
    """A loopback health target: /generate_204 answers 204, /ok answers 200."""

    async def g204(request: Request) -> Response:
        return Response(status_code=204)

    async def ok(request: Request) -> Response:
        return Response("ok")

    app = Starlette(routes=[Route("/generate_204", g204), Route("/ok", ok)])
    with run_app(app) as url:
        yield url


def chat(server: RelayServer, fmt: str = "openai") -> httpx.Response:
    body = {"model": MODEL["openai"], "messages": [{"role": "user", "content": "hi"}]}
    headers = {"authorization": f"Bearer {server.api_key}"}
    return httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=headers, timeout=30)


def setup_pool(server: RelayServer, proxy: ForwardProxy, target: str, **pool: Any) -> str:
    account = server.add_account("openai")
    server.configure(
        {
            "pool": {
                "enabled": True,
                "health_check_url": f"{target}/generate_204",
                "proxies": [{"id": "fwd", "url": proxy.url}],
                **pool,
            }
        }
    )
    invoke(server.ctx, catalog()["pool.bind"], {"account_id": account["id"], "proxy_id": "fwd"})
    server.ctx.records_changed()
    rt = server.app.app.state.runtime
    rt.poll_once()  # the server's watcher would within a second: apply config and bindings now
    return str(account["id"])


def trigger(server: RelayServer) -> dict[str, Any]:
    rt = server.app.app.state.runtime
    return dict(invoke(rt.ctx, catalog()["pool.check"], {}).data)


def test_bound_account_goes_through_the_proxy(
    relay_server: RelayServer,
    forward_proxy: ForwardProxy,
    check_target: str,
) -> None:
    emu_port = relay_server.emulators["openai"].url.rsplit(":", 1)[1]
    setup_pool(relay_server, forward_proxy, check_target)
    for _ in range(2):
        response = chat(relay_server)
        assert response.status_code == 200, response.text
    assert forward_proxy.seen(f"POST 127.0.0.1:{emu_port}/v1/chat/completions")
    rt = relay_server.app.app.state.runtime
    assert rt.pool.counters.selections["fwd"] == 2 and rt.pool.counters.in_flight["fwd"] == 0
    checked = trigger(relay_server)
    assert checked["proxies"][0]["is_healthy"] is True
    assert forward_proxy.seen(f"GET 127.0.0.1:{check_target.rsplit(':', 1)[1]}/generate_204")


def test_dead_proxy_marked_down_and_traffic_fails_over(
    relay_server: RelayServer,
    forward_proxy: ForwardProxy,
    check_target: str,
) -> None:
    setup_pool(relay_server, forward_proxy, check_target)
    forward_proxy.kill()
    before = len(relay_server.emulators["openai"].requests)
    assert chat(relay_server).status_code == 502  # bound and not yet known down: never goes direct
    assert len(relay_server.emulators["openai"].requests) == before
    view = trigger(relay_server)["proxies"][0]
    assert view["is_healthy"] is False and view["last_error"]
    assert chat(relay_server).status_code == 200  # marked down: failover (direct, no proxy required)


def test_dead_proxy_fails_closed_with_503(
    relay_server: RelayServer,
    forward_proxy: ForwardProxy,
    check_target: str,
) -> None:
    setup_pool(relay_server, forward_proxy, check_target, require_proxy_for_account_requests=True)
    forward_proxy.kill()
    trigger(relay_server)
    before = len(relay_server.emulators["openai"].requests)
    response = chat(relay_server)
    assert response.status_code == 503
    assert "require_proxy_for_account_requests" in response.json()["error"]["message"]
    assert len(relay_server.emulators["openai"].requests) == before
    assert relay_server.app.app.state.runtime.pool.strict_rejections_total >= 1


def test_custom_check_url_accepts_2xx_default_wants_204(
    relay_server: RelayServer,
    forward_proxy: ForwardProxy,
    check_target: str,
) -> None:
    setup_pool(relay_server, forward_proxy, check_target, health_check_url=f"{check_target}/ok")
    assert trigger(relay_server)["proxies"][0]["is_healthy"] is False  # pool URL answered 200, not 204
    invoke(
        relay_server.ctx,
        catalog()["pool.proxy_update"],
        {"id": "fwd", "body": {"health_check_url": f"{check_target}/ok"}},
    )
    relay_server.app.app.state.runtime.poll_once()
    assert trigger(relay_server)["proxies"][0]["is_healthy"] is True
