"""Rendering: Rich on a terminal, one JSON document with --json; errors and exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from enum import IntEnum
from typing import Any

import typer
from rich.console import Console
from rich.table import Table


class ExitCode(IntEnum):
    """Documented exit codes (README, admin-api.md)."""

    OK = 0
    FAILED = 1
    USAGE = 2
    NOT_FOUND = 3
    AUTH = 4
    CONFLICT = 5
    UNREACHABLE = 6
    INTERRUPTED = 130


_BY_CODE = {
    "bad_request": ExitCode.USAGE,
    "validation_failed": ExitCode.USAGE,
    "illegal_path": ExitCode.USAGE,
    "unsupported_format": ExitCode.USAGE,
    "not_found": ExitCode.NOT_FOUND,
    "unauthorized": ExitCode.AUTH,
    "forbidden": ExitCode.AUTH,
    "auth_locked_out": ExitCode.AUTH,
    "credential_invalid": ExitCode.AUTH,
    "confirmation_required": ExitCode.CONFLICT,
    "conflict": ExitCode.CONFLICT,
    "switch_in_progress": ExitCode.CONFLICT,
    "not_running": ExitCode.UNREACHABLE,
    "server_unreachable": ExitCode.UNREACHABLE,
}


def exit_code_for(code: str) -> ExitCode:
    """The exit code of an error code."""
    return _BY_CODE.get(code, ExitCode.FAILED)


class Output:
    """Where and how results are shown for one CLI run."""

    def __init__(self, as_json: bool, quiet: bool, color: bool) -> None:
        self.as_json = as_json
        self.quiet = quiet
        self.console = Console(no_color=not color, highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, no_color=not color, highlight=False, soft_wrap=True)

    def json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def show(self, data: Any, human: Callable[[Any], None] | None = None) -> None:
        """Print `data` as JSON, or with the human renderer."""
        if self.as_json or human is None:
            self.json(data)
        else:
            human(data)

    def hint(self, text: str) -> None:
        """A progress line or hint on stderr (suppressed by --quiet and --json)."""
        if not self.quiet and not self.as_json:
            self.err.print(text, markup=False)

    def error(self, message: str) -> None:
        self.err.print(f"error: {message}", markup=False)

    def table(self, columns: Iterable[str], rows: Iterable[Iterable[Any]], title: str | None = None) -> None:
        t = Table(title=title, show_lines=False)
        for col in columns:
            t.add_column(col)
        for row in rows:
            t.add_row(*("" if v is None else str(v) for v in row))
        self.console.print(t)

    def pairs(self, items: Iterable[tuple[str, Any]]) -> None:
        t = Table(show_header=False, box=None)
        t.add_column(style="bold")
        t.add_column()
        for key, value in items:
            shown = json.dumps(value) if isinstance(value, dict | list) else value
            t.add_row(key, "" if shown is None else str(shown))
        self.console.print(t)


def fail(message: str, code: ExitCode) -> typer.Exit:
    """Print one error line and build the exit."""
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"error: {message}", markup=False)
    return typer.Exit(int(code))


def one_line(exc: object) -> str:
    """One readable line for an error (validation problems joined with `; `)."""
    message = getattr(exc, "message", str(exc))
    details = getattr(exc, "details", None)
    if getattr(exc, "code", "") == "validation_failed" and isinstance(details, list):
        return "; ".join(f"{p.get('field')}: {p.get('message')}" for p in details if isinstance(p, dict))
    return str(message)
