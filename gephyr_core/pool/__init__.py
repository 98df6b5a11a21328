"""The egress proxy pool (pool.md): which route an upstream call leaves by.

`config` reads the proxies from the settings, `strategies` picks among eligible proxies,
`router` applies the routing order (bound → pool-selected → `upstream_proxy` → direct)
and keeps the runtime counters, `health` runs the health checks. Bindings live in the
`proxy_bindings` table (`gephyr_core.store.pool`).
"""

from __future__ import annotations

from gephyr_core.pool.config import PoolConfig, ProxySpec, normalise_url
from gephyr_core.pool.router import Egress, EgressRouter, PoolRejected

__all__ = ["Egress", "EgressRouter", "PoolConfig", "PoolRejected", "ProxySpec", "normalise_url"]
