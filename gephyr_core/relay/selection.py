"""Account choice behind one small interface (round-robin now; scheduling replaces it later)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Protocol


class Selector(Protocol):
    """Picks the next account for an attempt, never one already tried for this request."""

    def pick(self, candidates: Sequence[dict[str, Any]], tried: set[str]) -> dict[str, Any] | None: ...


class RoundRobin:
    """Round-robin over the routable candidates, in priority order."""

    def __init__(self) -> None:
        self._counter = itertools.count()

    def pick(self, candidates: Sequence[dict[str, Any]], tried: set[str]) -> dict[str, Any] | None:
        if not tried:  # the counting path: an index, no copy of the list
            return candidates[next(self._counter) % len(candidates)] if candidates else None
        left = [a for a in candidates if a["id"] not in tried]
        if not left:
            return None
        return left[next(self._counter) % len(left)]
