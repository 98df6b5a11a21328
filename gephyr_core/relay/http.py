"""Shared upstream HTTP clients: one pooled client per egress route, reused by every request.

httpx stays the client API; the transport is aiohttp's (httpx-aiohttp), chosen by the
relay benchmark: httpx's default pool degrades with concurrency on the hot path.
"""

from __future__ import annotations

from typing import Any

import httpx

DIRECT = "direct"


def _transport(limits: httpx.Limits) -> Any:
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
    """Lazily created `httpx.AsyncClient` per egress route (only `direct` for now)."""

    def __init__(self, read_timeout: float = 120.0) -> None:
        self._clients: dict[str, httpx.AsyncClient] = {}
        self.read_timeout = read_timeout

    def get(self, route: str = DIRECT) -> httpx.AsyncClient:
        """The client for an egress route, created on first use."""
        client = self._clients.get(route)
        if client is None:
            limits = httpx.Limits(max_connections=512, max_keepalive_connections=128, keepalive_expiry=30)
            timeout = httpx.Timeout(connect=10.0, read=self.read_timeout, write=30.0, pool=30.0)
            client = httpx.AsyncClient(
                transport=_transport(limits), timeout=timeout, trust_env=False, cookies=_no_cookies()
            )
            self._clients[route] = client
        return client

    async def aclose(self) -> None:
        """Close every client (server shutdown)."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
