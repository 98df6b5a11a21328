"""Pool settings and proxies as read from the effective settings (pool.md §1)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from gephyr_core.config import Settings

SCHEMES = ("http", "https", "socks5", "socks5h")
STRATEGIES = ("round_robin", "random", "priority", "least_connections", "weighted_round_robin")
DEFAULT_CHECK_URL = "http://cp.cloudflare.com/generate_204"


def normalise_url(url: str) -> str:
    """A proxy URL with its scheme (`host:port` is read as `http://host:port`); ValueError if bad."""
    text = url.strip()
    if "://" not in text:
        text = f"http://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"malformed proxy URL {url!r}: {exc}") from None
    if parts.scheme not in SCHEMES:
        raise ValueError(f"proxy URL {url!r} must use http, https, socks5 or socks5h")
    if not parts.hostname:
        raise ValueError(f"proxy URL {url!r} has no host")
    if port is None and parts.scheme.startswith("socks"):
        raise ValueError(f"SOCKS proxy URL {url!r} needs a port")
    return text


@dataclass(frozen=True)
class ProxySpec:
    """One proxy of the pool (password in plain text: settings are decrypted)."""

    id: str
    url: str
    name: str = ""
    enabled: bool = True
    priority: int = 0
    tags: tuple[str, ...] = ()
    max_accounts: int = 0
    health_check_url: str = ""
    username: str = ""
    password: str = ""

    @property
    def route(self) -> str:
        """The client key: a changed URL or credential makes a new client."""
        digest = hashlib.sha256(f"{self.url}\0{self.username}\0{self.password}".encode()).hexdigest()[:12]
        return f"proxy:{self.id}:{digest}"

    @classmethod
    def from_table(cls, raw: dict[str, Any]) -> ProxySpec:
        auth: dict[str, Any] = raw["auth"] if isinstance(raw.get("auth"), dict) else {}
        return cls(
            id=str(raw.get("id") or ""),
            url=normalise_url(str(raw.get("url") or "")),
            name=str(raw.get("name") or ""),
            enabled=bool(raw.get("enabled", True)),
            priority=int(raw.get("priority") or 0),
            tags=tuple(str(t) for t in raw.get("tags") or ()),
            max_accounts=int(raw.get("max_accounts") or 0),
            health_check_url=str(raw.get("health_check_url") or ""),
            username=str(auth.get("username") or ""),
            password=str(auth.get("password") or ""),
        )


@dataclass(frozen=True)
class PoolConfig:
    """The `[pool]` and `[upstream_proxy]` sections."""

    enabled: bool = False
    strategy: str = "priority"
    auto_failover: bool = True
    allow_shared_proxy_fallback: bool = True
    require_proxy_for_account_requests: bool = False
    health_check_interval: int = 300
    health_check_url: str = DEFAULT_CHECK_URL
    proxies: tuple[ProxySpec, ...] = field(default_factory=tuple)
    upstream_proxy: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> PoolConfig:
        proxies = []
        for raw in settings.get("pool.proxies") or []:
            try:
                proxies.append(ProxySpec.from_table(dict(raw)))
            except ValueError:
                continue  # validation refuses these when saving; a hand edit only loses that proxy
        upstream = ""
        if settings.get("upstream_proxy.enabled"):
            try:
                upstream = normalise_url(str(settings.get("upstream_proxy.url") or ""))
            except ValueError:
                upstream = ""
        return cls(
            enabled=bool(settings.get("pool.enabled")),
            strategy=str(settings.get("pool.strategy") or "priority"),
            auto_failover=bool(settings.get("pool.auto_failover")),
            allow_shared_proxy_fallback=bool(settings.get("pool.allow_shared_proxy_fallback")),
            require_proxy_for_account_requests=bool(settings.get("pool.require_proxy_for_account_requests")),
            health_check_interval=int(settings.get("pool.health_check_interval") or 300),
            health_check_url=str(settings.get("pool.health_check_url") or DEFAULT_CHECK_URL),
            proxies=tuple(proxies),
            upstream_proxy=upstream,
        )

    def proxy(self, proxy_id: str) -> ProxySpec | None:
        return next((p for p in self.proxies if p.id == proxy_id), None)
