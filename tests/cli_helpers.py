"""Running the CLI in-process and `gephyr serve` as a real process on a free port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from gephyr_cli.app import app


def cli(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
    """Invoke `gephyr ARGS` in-process (errors never escape as exceptions)."""
    return CliRunner().invoke(app, list(args), env=env, input=input, catch_exceptions=False)


def cli_json(*args: str, env: dict[str, str] | None = None) -> Any:
    """Invoke with --json and parse stdout; fails loudly on a non-zero exit."""
    result = cli("--json", *args, env=env)
    assert result.exit_code == 0, f"{args}: exit {result.exit_code}: {result.stderr}"
    return json.loads(result.stdout)


@dataclass
class ServerProcess:
    """A `gephyr serve` child process."""

    proc: subprocess.Popen[bytes]
    data_dir: Path
    info: dict[str, Any]

    @property
    def url(self) -> str:
        return str(self.info["base_url"])

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return self.proc.returncode


def start_server(data_dir: Path, *extra: str, env: dict[str, str] | None = None) -> ServerProcess:
    """Start `gephyr serve --port 0 EXTRA` on `data_dir` and wait for its server.json."""
    full_env = {**os.environ, "GEPHYR_DATA_DIR": str(data_dir), **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gephyr_cli", "serve", "--port", "0", *extra],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    marker = data_dir / "server.json"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"gephyr serve exited {proc.returncode}: {err}")
        if marker.exists():
            try:
                info = json.loads(marker.read_text())
            except ValueError:
                info = None
            if info and info.get("pid") == proc.pid:
                return ServerProcess(proc, data_dir, info)
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError("gephyr serve did not start within 20 s")
