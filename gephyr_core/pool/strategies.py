"""Selection strategies over eligible proxies in config order (pool.md §2)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from gephyr_core.pool.config import ProxySpec


class Counters:
    """What strategies read: live in-flight and total selections per proxy, a global counter."""

    def __init__(self) -> None:
        self.in_flight: dict[str, int] = {}
        self.selections: dict[str, int] = {}
        self.turn = 0


def pick(
    strategy: str, proxies: Sequence[ProxySpec], counters: Counters, rng: random.Random | None = None
) -> ProxySpec:
    """Choose one of a non-empty list of proxies."""
    chooser = _STRATEGIES.get(strategy, _priority)
    return chooser(proxies, counters, rng or random.Random())


def _round_robin(proxies: Sequence[ProxySpec], counters: Counters, rng: random.Random) -> ProxySpec:
    chosen = proxies[counters.turn % len(proxies)]
    counters.turn += 1
    return chosen


def _random(proxies: Sequence[ProxySpec], counters: Counters, rng: random.Random) -> ProxySpec:
    return rng.choice(list(proxies))


def _priority(proxies: Sequence[ProxySpec], counters: Counters, rng: random.Random) -> ProxySpec:
    return min(proxies, key=lambda p: p.priority)  # min keeps the first of equals: config order


def _least_connections(proxies: Sequence[ProxySpec], counters: Counters, rng: random.Random) -> ProxySpec:
    return min(proxies, key=lambda p: (counters.in_flight.get(p.id, 0), counters.selections.get(p.id, 0)))


def _weighted(proxies: Sequence[ProxySpec], counters: Counters, rng: random.Random) -> ProxySpec:
    top = max(p.priority for p in proxies)
    return rng.choices(list(proxies), weights=[top - p.priority + 1 for p in proxies])[0]


_STRATEGIES: dict[str, Callable[[Sequence[ProxySpec], Counters, random.Random], ProxySpec]] = {
    "round_robin": _round_robin,
    "random": _random,
    "priority": _priority,
    "least_connections": _least_connections,
    "weighted_round_robin": _weighted,
}
