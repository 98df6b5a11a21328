"""A proxy server started as a subprocess on a free loopback port, its output kept in a log file."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ProxyProcess:
    """Starts `argv` (with `{port}` filled in) writing to `<tmp>/<name>-<port>.log`; `kill` stops it."""

    def __init__(self, tmp: Path, name: str, argv: list[str]) -> None:
        self.port = free_port()
        self._log = tmp / f"{name}-{self.port}.log"
        self._out = self._log.open("wb")
        self.proc = subprocess.Popen(
            [arg.format(port=self.port) for arg in argv], stdout=self._out, stderr=subprocess.STDOUT
        )

    def log_text(self) -> str:
        return self._log.read_text()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._out.close()
