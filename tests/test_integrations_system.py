"""System (data dir, log files) and the debug console (integrations.md §§2–3)."""

from __future__ import annotations

import logging
from pathlib import Path

from gephyr_core.admin import catalog, invoke
from gephyr_core.admin.debug import DebugConsole
from tests.cli_helpers import cli, cli_json
from tests.relay.harness import RelayServer


def test_data_dir_and_clear_logs(data_dir: Path) -> None:
    assert cli_json("system", "data-dir") == str(data_dir.resolve())
    assert cli("system", "data-dir").stdout.strip() == str(data_dir.resolve())
    assert cli_json("system", "clear-logs") == {"ok": True, "files": 0, "bytes_freed": 0}
    logs = data_dir / "logs"
    logs.mkdir()
    (logs / "gephyr.log").write_text("x" * 100)
    (logs / "gephyr.log.2026-01-01").write_text("y" * 28)
    (logs / "sub").mkdir()
    assert cli_json("system", "clear-logs") == {"ok": True, "files": 2, "bytes_freed": 128}
    assert (logs / "gephyr.log").exists() and (logs / "gephyr.log").stat().st_size == 0


def test_debug_needs_a_server(data_dir: Path) -> None:
    for verb in ("enable", "disable", "status", "logs", "clear"):
        result = cli("debug", verb)
        assert result.exit_code == 6, verb


def _op(relay: RelayServer, name: str, **kwargs: object) -> object:
    return invoke(relay.ctx, catalog()[name], kwargs).data


def test_debug_console_captures_while_enabled(relay_server: RelayServer) -> None:
    log = logging.getLogger("gephyr.test_debug")
    log.setLevel(logging.INFO)  # the console captures what the server emits at logging.level
    try:
        assert _op(relay_server, "debug.enabled") is False
        log.warning("before enabling")
        assert _op(relay_server, "debug.enable") == {"ok": True, "enabled": True}
        log.info("first %s", "event", extra={"request_id": "req-1", "model": "gpt-4o"})
        log.error("second event")
        events = _op(relay_server, "debug.logs")
        assert isinstance(events, list)
        assert [e["message"] for e in events] == ["second event", "first event"]  # newest first
        first = events[1]
        assert first["level"] == "info" and first["target"] == "gephyr.test_debug"
        assert first["fields"] == {"request_id": "req-1", "model": "gpt-4o"}
        assert isinstance(first["timestamp"], float)
        after = _op(relay_server, "debug.logs", after_id=first["id"])
        assert [e["message"] for e in after] == ["second event"]  # type: ignore[union-attr]
        assert [e["message"] for e in _op(relay_server, "debug.logs", level="error")] == ["second event"]  # type: ignore[union-attr]
        assert _op(relay_server, "debug.disable") == {"ok": True, "enabled": False}
        log.error("not captured")
        assert len(_op(relay_server, "debug.logs")) == 2  # type: ignore[arg-type]
        assert _op(relay_server, "debug.clear") == {"ok": True, "cleared": 2}
        assert _op(relay_server, "debug.logs") == []
    finally:
        log.setLevel(logging.NOTSET)
        root = logging.getLogger("gephyr")
        for handler in [h for h in root.handlers if isinstance(h, DebugConsole)]:
            root.removeHandler(handler)


def test_console_ring_is_bounded() -> None:
    console = DebugConsole(capacity=3)
    console.enabled = True
    for i in range(5):
        console.emit(logging.LogRecord("gephyr.x", logging.INFO, __file__, 1, f"m{i}", None, None))
    assert [e["message"] for e in console.events(10, None, None)] == ["m4", "m3", "m2"]
    assert [e["id"] for e in console.events(10, None, 3)] == [4, 5]
