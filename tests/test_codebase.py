"""Codebase rules: ruff clean, the core never imports the CLI stack, modules stay small."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_knows_nothing_of_the_cli() -> None:
    for path in (ROOT / "gephyr_core").rglob("*.py"):
        text = path.read_text()
        for banned in ("import typer", "from typer", "import rich", "from rich", "gephyr_cli"):
            assert banned not in text, f"{path.relative_to(ROOT)} uses {banned}"


def test_modules_stay_small() -> None:
    for package in ("gephyr_core", "gephyr_cli"):
        for path in (ROOT / package).rglob("*.py"):
            lines = len(path.read_text().splitlines())
            assert lines <= 600, f"{path.relative_to(ROOT)} has {lines} lines; split it by responsibility"


def test_public_names() -> None:
    import gephyr_core
    import gephyr_core.admin
    import gephyr_core.config

    assert gephyr_core.__all__ == ["__version__"]
    assert set(gephyr_core.admin.__all__) == {
        "AdminContext",
        "Operation",
        "Reply",
        "catalog",
        "invoke",
        "open_context",
    }
    assert set(gephyr_core.config.__all__) == {"Settings", "build_settings", "defaults"}
    for module in (gephyr_core, gephyr_core.admin, gephyr_core.config):
        for name in module.__all__:
            assert hasattr(module, name)


def test_mypy_strict_on_core() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "gephyr_core"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
