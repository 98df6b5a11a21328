"""Selection strategies, routing order, fail-closed and the bindings table (pool.md §2–4)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from gephyr_core.config import Settings
from gephyr_core.config.document import with_defaults
from gephyr_core.errors import Conflict
from gephyr_core.pool import EgressRouter, PoolRejected, normalise_url
from gephyr_core.pool.router import Health
from gephyr_core.store import open_store
from gephyr_core.store import pool as pool_table


def router(pool: dict[str, Any], upstream: dict[str, Any] | None = None, seed: int = 1) -> EgressRouter:
    data = with_defaults({"pool": {"enabled": True, **pool}, "upstream_proxy": upstream or {}})
    settings = Settings(data)
    return EgressRouter(lambda: settings, random.Random(seed))


def proxies(*specs: tuple[str, int]) -> list[dict[str, Any]]:
    return [
        {"id": pid, "url": f"http://127.0.0.1:{9000 + i}", "priority": prio}
        for i, (pid, prio) in enumerate(specs)
    ]


def test_priority_picks_lowest_then_config_order() -> None:
    r = router({"strategy": "priority", "proxies": proxies(("a", 5), ("b", 1), ("c", 1))})
    assert {r.resolve("acc").proxy_id for _ in range(5)} == {"b"}


def test_round_robin_cycles_in_config_order() -> None:
    r = router({"strategy": "round_robin", "proxies": proxies(("a", 0), ("b", 0), ("c", 0))})
    assert [r.resolve(None).proxy_id for _ in range(6)] == ["a", "b", "c", "a", "b", "c"]


def test_least_connections_uses_live_in_flight() -> None:
    r = router({"strategy": "least_connections", "proxies": proxies(("a", 0), ("b", 0))})
    first = r.resolve("x")
    r.started(first)
    second = r.resolve("y")
    assert (first.proxy_id, second.proxy_id) == ("a", "b")
    r.started(second)
    r.ended(first)  # a's request finished: a has nothing in flight again
    assert r.resolve("z").proxy_id == "a"


def test_weighted_and_random_cover_every_proxy() -> None:
    for strategy in ("weighted_round_robin", "random"):
        r = router({"strategy": strategy, "proxies": proxies(("a", 0), ("b", 3))})
        seen = [r.resolve(None).proxy_id for _ in range(200)]
        assert set(seen) == {"a", "b"}
        if strategy == "weighted_round_robin":  # weight 4 vs 1
            assert seen.count("a") > seen.count("b") * 2


def test_bound_account_uses_its_proxy_and_others_avoid_it() -> None:
    r = router({"strategy": "priority", "proxies": proxies(("a", 0), ("b", 1))})
    r.bindings = {"acc1": "a"}
    assert r.resolve("acc1").proxy_id == "a"
    assert r.resolve("acc2").proxy_id == "b"  # a is bound: not shared


def test_unhealthy_bound_proxy_falls_to_shared_unless_failover_off() -> None:
    r = router({"proxies": proxies(("a", 0), ("b", 1))})
    r.bindings = {"acc1": "a"}
    r.health["a"] = Health(is_healthy=False)
    assert r.resolve("acc1").proxy_id == "b"
    r2 = router({"auto_failover": False, "proxies": proxies(("a", 0), ("b", 1))})
    r2.bindings = {"acc1": "a"}
    r2.health["a"] = Health(is_healthy=False)
    assert r2.resolve("acc1").proxy_id == "a"


def test_shared_fallback_counts_and_can_be_disabled() -> None:
    r = router({"proxies": proxies(("a", 0))})
    r.bindings = {"acc1": "a"}
    assert r.resolve("acc2").kind == "shared_fallback"
    assert r.shared_fallback_selections_total == 1
    strict = router({"allow_shared_proxy_fallback": False, "proxies": proxies(("a", 0))})
    strict.bindings = {"acc1": "a"}
    assert strict.resolve("acc2").kind == "direct"


def test_fail_closed_and_upstream_proxy_order() -> None:
    down = {"require_proxy_for_account_requests": True, "proxies": proxies(("a", 0))}
    r = router(down)
    r.health["a"] = Health(is_healthy=False)
    with pytest.raises(PoolRejected):
        r.resolve("acc")
    assert r.strict_rejections_total == 1
    assert r.resolve(None).kind == "direct"  # calls for no account are not fail-closed
    r2 = router(down, {"enabled": True, "url": "127.0.0.1:3128"})
    r2.health["a"] = Health(is_healthy=False)
    egress = r2.resolve("acc")
    assert egress.kind == "upstream_proxy" and egress.proxy is not None
    assert egress.proxy.url == "http://127.0.0.1:3128"


def test_disabled_pool_goes_direct() -> None:
    r = router({"enabled": False, "proxies": proxies(("a", 0))})
    assert r.resolve("acc").kind == "direct"


@pytest.mark.parametrize("bad", ["ftp://x:1", "http://", "socks5://host", "http://h:99999"])
def test_normalise_url_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        normalise_url(bad)


def test_changed_credentials_change_the_route() -> None:
    a = router(
        {"proxies": [{"id": "a", "url": "http://127.0.0.1:1", "auth": {"username": "u", "password": "1"}}]}
    )
    b = router(
        {"proxies": [{"id": "a", "url": "http://127.0.0.1:1", "auth": {"username": "u", "password": "2"}}]}
    )
    assert a.resolve(None).route != b.resolve(None).route


def test_bindings_table_max_accounts(tmp_path: Path) -> None:
    store = open_store(tmp_path / "g.db")
    try:
        pool_table.bind(store, "acc1", "p", 1)
        pool_table.bind(store, "acc1", "p", 1)  # rebinding itself is not over the limit
        with pytest.raises(Conflict) as err:
            pool_table.bind(store, "acc2", "p", 1)
        assert err.value.details["reason"] == "proxy_full"
        assert pool_table.load(store) == {"acc1": "p"}
        assert pool_table.unbind(store, "acc1") and not pool_table.unbind(store, "acc1")
    finally:
        store.close()
