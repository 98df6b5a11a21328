"""Data-dir resolution, layout, file modes and running-server discovery (`server.json`)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA_DIR_ENV = ("GEPHYR_DATA_DIR", "ABV_DATA_DIR", "DATA_DIR")


def resolve_data_dir(option: str | os.PathLike[str] | None, env: Mapping[str, str]) -> Path:
    """The data dir: option, then env (GEPHYR_/ABV_/plain DATA_DIR), then ~/.gephyr."""
    if option:
        return Path(option).expanduser().resolve()
    for name in DATA_DIR_ENV:
        value = env.get(name, "").strip()
        if value:
            return Path(value).expanduser().resolve()
    home = env.get("HOME") or ""
    try:
        base = Path(home) if home else Path.home()
    except RuntimeError:
        base = Path(tempfile.gettempdir())
    return (base / ".gephyr").resolve()


@dataclass(frozen=True)
class DataDir:
    """The files of one data dir."""

    root: Path

    @property
    def config_path(self) -> Path:
        return self.root / "config.toml"

    @property
    def config_lock_path(self) -> Path:
        return self.root / "config.toml.lock"

    @property
    def db_path(self) -> Path:
        return self.root / "gephyr.db"

    @property
    def key_path(self) -> Path:
        return self.root / "secret.key"

    @property
    def server_json_path(self) -> Path:
        return self.root / "server.json"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def ensure(self) -> DataDir:
        """Create the directory (0700) if needed."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(OSError):
            os.chmod(self.root, 0o700)
        return self


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Atomically write `data` to `path` with `mode` (default 0600): temp file, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Exclusive advisory lock on `path` (created 0600) for the duration of the block."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_server_json(dd: DataDir) -> dict[str, Any] | None:
    """The live server record of this data dir, or None when absent or stale (dead pid)."""
    try:
        info = json.loads(dd.server_json_path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not pid_alive(int(info.get("pid") or 0)):
        return None
    return info


def write_server_json(dd: DataDir, info: dict[str, Any]) -> None:
    """Publish the running server's record (0600)."""
    write_private(dd.server_json_path, json.dumps(info, indent=2).encode())


def remove_server_json(dd: DataDir, pid: int) -> None:
    """Remove server.json if it still names this process."""
    try:
        info = json.loads(dd.server_json_path.read_text())
    except (OSError, ValueError):
        return
    if isinstance(info, dict) and info.get("pid") == pid:
        with contextlib.suppress(OSError):
            dd.server_json_path.unlink()
