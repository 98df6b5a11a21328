"""Shared upstream HTTP clients: one pooled client per egress route, reused by every request.

httpx stays the client API; the transport is aiohttp's (httpx-aiohttp), chosen by the
relay benchmark: httpx's default pool degrades with concurrency on the hot path.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import httpx

DIRECT = "direct"


@dataclass(frozen=True)
class ProxyEndpoint:
    """The proxy an egress route leaves through (pool.md §3)."""

    url: str
    username: str = ""
    password: str = ""

    def httpx_proxy(self) -> httpx.Proxy:
        auth = (self.username, self.password) if self.username or self.password else None
        return httpx.Proxy(self.url, auth=auth)


def _transport(limits: httpx.Limits, proxy: ProxyEndpoint | None = None) -> Any:
    # Proxied routes use httpx's own transport: one code path for HTTP, HTTPS and SOCKS5 (socksio);
    # aiohttp has no SOCKS, and its proxied requests were refused by a real forward proxy in tests.
    if proxy is not None:
        return httpx.AsyncHTTPTransport(limits=limits, retries=0, proxy=proxy.httpx_proxy())
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError:  # the pure-httpx transport still works, only slower
        return httpx.AsyncHTTPTransport(limits=limits, retries=0)
    return AiohttpTransport(limits=limits, trust_env=False)


def _no_cookies() -> httpx.Cookies:
    """A jar that keeps nothing: one account's upstream cookies must never reach another's calls."""
    from http.cookiejar import CookieJar, DefaultCookiePolicy

    return httpx.Cookies(CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])))


def _sync_client(proxy: ProxyEndpoint | None, read_timeout: float) -> httpx.Client:
    """A blocking client for account calls made from worker threads (refresh, probe, list-models)."""
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=16, keepalive_expiry=60)
    timeout = httpx.Timeout(connect=20.0, read=read_timeout, write=30.0, pool=30.0)
    transport = httpx.HTTPTransport(limits=limits, retries=0, proxy=proxy.httpx_proxy() if proxy else None)
    return httpx.Client(transport=transport, timeout=timeout, trust_env=False, cookies=_no_cookies())


class ClientPool:
    """Lazily created `httpx.AsyncClient` per egress route (direct, upstream proxy, each pool proxy).

    Account calls made outside the event loop (token refresh, probes, list-models run in
    worker threads) use a blocking `httpx.Client` per route from `sync`, kept beside the async
    one and retired with it. A route whose proxy URL or credentials changed gets a new key;
    the old clients are retired and closed by `sweep` once their in-flight requests have finished.
    """

    def __init__(self, read_timeout: float = 120.0) -> None:
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._retired: dict[str, httpx.AsyncClient] = {}
        self.in_flight: dict[str, int] = {}
        self.read_timeout = read_timeout
        # the blocking clients are used from worker threads: their dicts change under this lock
        self._lock = threading.Lock()
        self._sync: dict[str, httpx.Client] = {}
        self._sync_retired: dict[str, httpx.Client] = {}
        self._sync_in_flight: dict[str, int] = {}

    def get(self, route: str = DIRECT, proxy: ProxyEndpoint | None = None) -> httpx.AsyncClient:
        """The client for an egress route, created on first use."""
        client = self._clients.get(route)
        if client is None:
            # pool.md: connect 20 s, keep-alive 60 s; more idle connections than its 16 per host
            # because the relay keeps up to c64 upstream streams warm (see docs/decisions.md)
            limits = httpx.Limits(max_connections=512, max_keepalive_connections=128, keepalive_expiry=60)
            timeout = httpx.Timeout(connect=20.0, read=self.read_timeout, write=30.0, pool=30.0)
            client = httpx.AsyncClient(
                transport=_transport(limits, proxy), timeout=timeout, trust_env=False, cookies=_no_cookies()
            )
            self._clients[route] = client
        return client

    def sync(self, route: str = DIRECT, proxy: ProxyEndpoint | None = None) -> httpx.Client:
        """The blocking client of a route, created on first use; in flight until `sync_ended`."""
        with self._lock:
            client = self._sync.get(route)
            if client is None:
                client = self._sync[route] = _sync_client(proxy, self.read_timeout)
            self._sync_in_flight[route] = self._sync_in_flight.get(route, 0) + 1
            return client

    def sync_ended(self, route: str) -> None:
        with self._lock:
            self._sync_in_flight[route] = max(0, self._sync_in_flight.get(route, 0) - 1)

    def started(self, route: str) -> None:
        self.in_flight[route] = self.in_flight.get(route, 0) + 1

    def ended(self, route: str) -> None:
        self.in_flight[route] = max(0, self.in_flight.get(route, 0) - 1)

    def retire(self, keep: set[str]) -> None:
        """Stop handing out clients of routes not in `keep` (their config changed or went away)."""
        with self._lock:  # may run in a worker thread: iterate over copies
            for route in [r for r in list(self._clients) if r not in keep]:
                self._retired[route] = self._clients.pop(route)
            for route in [r for r in list(self._sync) if r not in keep]:
                self._sync_retired[route] = self._sync.pop(route)

    def sweep_sync(self) -> None:
        """Close retired blocking clients that have no request in flight."""
        with self._lock:
            idle = [r for r in list(self._sync_retired) if not self._sync_in_flight.get(r)]
            closing = [self._sync_retired.pop(r) for r in idle]
        for client in closing:
            client.close()

    async def sweep(self) -> None:
        """Close retired clients that have no request in flight."""
        with self._lock:
            idle = [self._retired.pop(r) for r in list(self._retired) if not self.in_flight.get(r)]
        for client in idle:
            await client.aclose()
        self.sweep_sync()

    async def aclose(self) -> None:
        """Close every client (server shutdown)."""
        with self._lock:
            clients = [*self._clients.values(), *self._retired.values()]
            blocking = [*self._sync.values(), *self._sync_retired.values()]
            self._clients, self._retired, self._sync, self._sync_retired = {}, {}, {}, {}
        for client in clients:
            await client.aclose()
        for sync_client in blocking:
            sync_client.close()
