"""Shared fixtures: every test gets its own data dir and a clean environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.emulators.fixtures", "tests.relay.harness"]

_ENV_PREFIXES = ("GEPHYR_", "ABV_")
_PLAIN = {
    "API_KEY",
    "WEB_PASSWORD",
    "AUTH_MODE",
    "ALLOW_LAN_ACCESS",
    "PORT",
    "MAX_BODY_SIZE",
    "ENABLE_ADMIN_API",
    "PUBLIC_URL",
    "DATA_DIR",
    "ENCRYPTION_KEY",
    "OAUTH_CLIENT_ID",
    "OAUTH_CLIENT_SECRET",
    "LOG_LEVEL",
}


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point GEPHYR_DATA_DIR at a fresh temporary directory; drop inherited overlays."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name in _PLAIN:
            monkeypatch.delenv(name, raising=False)
    root = tmp_path / "data"
    monkeypatch.setenv("GEPHYR_DATA_DIR", str(root))
    monkeypatch.setenv("NO_COLOR", "1")
    yield root
