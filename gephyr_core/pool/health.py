"""Proxy health checks (pool.md §5): a GET through each enabled proxy, at most 20 at once."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx

from gephyr_core import __version__
from gephyr_core.pool.config import PoolConfig, ProxySpec
from gephyr_core.pool.router import EgressRouter, Health, endpoint
from gephyr_core.relay.http import ClientPool

log = logging.getLogger("gephyr.pool")
TIMEOUT = 10.0
PARALLEL = 20


def _passes(status: int, custom: bool) -> bool:
    """The pool's default URL must answer exactly 204; a per-proxy URL any 2xx."""
    return 200 <= status < 300 if custom else status == 204


async def check_one(clients: ClientPool, cfg: PoolConfig, spec: ProxySpec) -> Health:
    """Check one proxy through its route's shared client."""
    url = spec.health_check_url or cfg.health_check_url
    client = clients.get(spec.route, endpoint(spec))
    started = time.monotonic()
    try:
        response = await client.get(url, headers={"user-agent": f"gephyr/{__version__}"}, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        return Health(False, None, int(time.time()), f"{type(exc).__name__}: {exc}"[:300])
    latency = int((time.monotonic() - started) * 1000)
    if _passes(response.status_code, bool(spec.health_check_url)):
        return Health(True, latency, int(time.time()), None)
    wanted = "2xx" if spec.health_check_url else "204"
    return Health(False, None, int(time.time()), f"status {response.status_code}, expected {wanted}")


async def check_all(router: EgressRouter, clients: ClientPool) -> None:
    """One round over every enabled proxy; results go to `router.health`."""
    cfg = router.config()
    gate = asyncio.Semaphore(PARALLEL)

    async def one(spec: ProxySpec) -> None:
        async with gate:
            health = await check_one(clients, cfg, spec)
        if health.is_healthy is False and router.healthy(spec.id):
            log.warning("proxy %s failed its health check: %s", spec.id, health.last_error)
        router.health[spec.id] = health

    async with asyncio.TaskGroup() as group:
        for spec in cfg.proxies:
            if spec.enabled:
                group.create_task(one(spec))


async def run_loop(router: EgressRouter, clients: ClientPool) -> None:
    """Background loop owned by the server: check, then sleep max(interval, 30) s (60 s if disabled)."""
    router.loop = asyncio.get_running_loop()
    while True:
        cfg = router.config()
        if cfg.enabled:
            await check_all(router, clients)
            await asyncio.sleep(max(cfg.health_check_interval, 30))
        else:
            await asyncio.sleep(60)
