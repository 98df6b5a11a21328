"""The egress route of a call (pool.md §3) and the pool's runtime counters and health."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gephyr_core.config import Settings
from gephyr_core.errors import GephyrError
from gephyr_core.pool.config import PoolConfig, ProxySpec
from gephyr_core.pool.strategies import Counters, pick
from gephyr_core.relay.http import DIRECT, ProxyEndpoint

log = logging.getLogger("gephyr.pool")


class PoolRejected(GephyrError):
    """No proxy is available and `require_proxy_for_account_requests` forbids going direct.

    Admin-side account calls report it as `upstream_unreachable` (the provider cannot be
    reached by an allowed route); the relay turns it into a 503 attempt failure (`lease.choose`).
    """

    code = "upstream_unreachable"


@dataclass
class Health:
    """Runtime result of the last health check of one proxy (never checked → healthy)."""

    is_healthy: bool | None = None
    latency_ms: int | None = None
    last_check_time: int | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class Egress:
    """How one call leaves: the client key and, unless direct, the proxy."""

    route: str = DIRECT
    proxy: ProxyEndpoint | None = None
    proxy_id: str | None = None
    kind: str = "direct"  # direct | upstream_proxy | bound | shared | shared_fallback


def endpoint(spec: ProxySpec) -> ProxyEndpoint:
    return ProxyEndpoint(spec.url, spec.username, spec.password)


def upstream_egress(url: str) -> Egress:
    route = "upstream:" + hashlib.sha256(url.encode()).hexdigest()[:12]
    return Egress(route, ProxyEndpoint(url), None, "upstream_proxy")


class EgressRouter:
    """Chooses routes and keeps health, selections, in-flight counts and bindings in memory."""

    def __init__(self, settings: Callable[[], Settings], rng: random.Random | None = None) -> None:
        self._settings = settings
        self._rng = rng or random.Random()
        self._cached: tuple[int, PoolConfig] | None = None
        self.counters = Counters()
        self.health: dict[str, Health] = {}
        self.bindings: dict[str, str] = {}
        self.shared_fallback_selections_total = 0
        self.strict_rejections_total = 0
        self.loop: asyncio.AbstractEventLoop | None = None  # the server's loop (set by the health loop)
        # token refresh, probes and list-models resolve routes from worker threads too
        self._lock = threading.Lock()

    def config(self) -> PoolConfig:
        settings = self._settings()
        if self._cached is None or self._cached[0] != id(settings):
            self._cached = (id(settings), PoolConfig.from_settings(settings))
        return self._cached[1]

    def healthy(self, proxy_id: str) -> bool:
        health = self.health.get(proxy_id)
        return health is None or health.is_healthy is not False

    def _usable(self, cfg: PoolConfig, spec: ProxySpec) -> bool:
        return spec.enabled and (not cfg.auto_failover or self.healthy(spec.id))

    def _chosen(self, spec: ProxySpec, kind: str) -> Egress:
        self.counters.selections[spec.id] = self.counters.selections.get(spec.id, 0) + 1
        return Egress(spec.route, endpoint(spec), spec.id, kind)

    def select_shared(self, cfg: PoolConfig | None = None) -> Egress | None:
        """A proxy nobody is bound to by the strategy; else any eligible one when fallback is on."""
        with self._lock:
            return self._select_shared(cfg or self.config())

    def _select_shared(self, cfg: PoolConfig) -> Egress | None:
        eligible = [p for p in cfg.proxies if self._usable(cfg, p)]
        bound = set(self.bindings.values())
        shared = [p for p in eligible if p.id not in bound]
        if shared:
            return self._chosen(pick(cfg.strategy, shared, self.counters, self._rng), "shared")
        if eligible and cfg.allow_shared_proxy_fallback:
            spec = pick(cfg.strategy, eligible, self.counters, self._rng)
            self.shared_fallback_selections_total += 1
            log.warning("no unbound proxy is eligible: sharing bound proxy %s", spec.id)
            return self._chosen(spec, "shared_fallback")
        return None

    def resolve(self, account_id: str | None) -> Egress:
        """The route of a call made for an account (or for none); PoolRejected when fail-closed."""
        cfg = self.config()
        with self._lock:
            if cfg.enabled and cfg.proxies:
                bound = cfg.proxy(self.bindings.get(account_id, "")) if account_id else None
                if bound is not None and self._usable(cfg, bound):
                    return self._chosen(bound, "bound")
                shared = self._select_shared(cfg)
                if shared is not None:
                    return shared
            if cfg.upstream_proxy:
                return upstream_egress(cfg.upstream_proxy)
            if account_id is not None and cfg.require_proxy_for_account_requests:
                self.strict_rejections_total += 1
                raise PoolRejected(
                    "no egress proxy is available and pool.require_proxy_for_account_requests"
                    " forbids going direct"
                )
        return Egress()

    def active_routes(self) -> set[str]:
        """Client keys the current config can still choose (others may be retired)."""
        cfg = self.config()
        routes = {DIRECT, *(p.route for p in cfg.proxies)}
        if cfg.upstream_proxy:
            routes.add(upstream_egress(cfg.upstream_proxy).route)
        return routes

    def started(self, egress: Egress) -> None:
        if egress.proxy_id:
            with self._lock:
                self.counters.in_flight[egress.proxy_id] = self.counters.in_flight.get(egress.proxy_id, 0) + 1

    def ended(self, egress: Egress) -> None:
        if egress.proxy_id:
            with self._lock:
                left = self.counters.in_flight.get(egress.proxy_id, 0) - 1
                self.counters.in_flight[egress.proxy_id] = max(0, left)

    def runtime_view(self, proxy_id: str) -> dict[str, Any]:
        """The runtime half of a ProxyView."""
        health = self.health.get(proxy_id, Health())
        return {
            "is_healthy": health.is_healthy,
            "latency_ms": health.latency_ms,
            "last_check_time": health.last_check_time,
            "last_error": health.last_error,
            "selections_total": self.counters.selections.get(proxy_id, 0),
            "in_flight": self.counters.in_flight.get(proxy_id, 0),
        }

    def metrics(self) -> dict[str, Any]:
        """Pool counters for the metrics snapshot (pool.md §7)."""
        cfg = self.config()
        return {
            "shared_fallback_selections_total": self.shared_fallback_selections_total,
            "strict_rejections_total": self.strict_rejections_total,
            "bindings": len(self.bindings),
            "proxies": {p.id: self.runtime_view(p.id) for p in cfg.proxies},
        }
