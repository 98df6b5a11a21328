"""Benchmarks are scripts (no ``test_*.py`` here), so the default ``pytest`` run collects nothing.

Should a pytest wrapper ever be added under this folder, it must carry ``@pytest.mark.benchmark``; it is
then skipped unless the run selects it with ``-m benchmark``.
"""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "benchmark" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="benchmark: run only when asked (-m benchmark)")
    for item in items:
        if item.get_closest_marker("benchmark") is not None:
            item.add_marker(skip)
