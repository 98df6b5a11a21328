"""Shared upstream HTTP clients: one pooled client per egress route, reused by every request.

httpx stays the client API; the transport is aiohttp's (httpx-aiohttp), chosen by the
relay benchmark: httpx's default pool degrades with concurrency on the hot path.
"""

from __future__ import annotations

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


class ClientPool:
    """Lazily created `httpx.AsyncClient` per egress route (direct, upstream proxy, each pool proxy).

    A route whose proxy URL or credentials changed gets a new key; the old client is retired
    and closed by `sweep` once its in-flight requests have finished.
    """

    def __init__(self, read_timeout: float = 120.0) -> None:
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._retired: dict[str, httpx.AsyncClient] = {}
        self.in_flight: dict[str, int] = {}
        self.read_timeout = read_timeout

    def get(self, route: str = DIRECT, proxy: ProxyEndpoint | None = None) -> httpx.AsyncClient:
        """The client for an egress route, created on first use."""
        client = self._clients.get(route)
        if client is None:
            limits = httpx.Limits(max_connections=512, max_keepalive_connections=128, keepalive_expiry=30)
            timeout = httpx.Timeout(connect=10.0, read=self.read_timeout, write=30.0, pool=30.0)
            client = httpx.AsyncClient(
                transport=_transport(limits, proxy), timeout=timeout, trust_env=False, cookies=_no_cookies()
            )
            self._clients[route] = client
        return client

    def started(self, route: str) -> None:
        self.in_flight[route] = self.in_flight.get(route, 0) + 1

    def ended(self, route: str) -> None:
        self.in_flight[route] = max(0, self.in_flight.get(route, 0) - 1)

    def retire(self, keep: set[str]) -> None:
        """Stop handing out clients of routes not in `keep` (their config changed or went away)."""
        for route in [r for r in self._clients if r not in keep]:
            self._retired[route] = self._clients.pop(route)

    async def sweep(self) -> None:
        """Close retired clients that have no request in flight."""
        for route in [r for r in self._retired if not self.in_flight.get(r)]:
            await self._retired.pop(route).aclose()

    async def aclose(self) -> None:
        """Close every client (server shutdown)."""
        clients = [*self._clients.values(), *self._retired.values()]
        self._clients, self._retired = {}, {}
        for client in clients:
            await client.aclose()
