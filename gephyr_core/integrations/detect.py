"""Whether a client tool is installed, and its version (integrations.md §1.4)."""

from __future__ import annotations

import glob
import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

#: searched after PATH, relative to the home directory
HOME_DIRS = (".local/bin", ".npm-global/bin", "bin", ".bun/bin", ".local/share/pnpm")
NVM_GLOB = ".nvm/versions/node/*/bin"
SYSTEM_DIRS = ("/opt/homebrew/bin", "/usr/local/bin", "/usr/bin")
VERSION_TIMEOUT_SECONDS = 5.0
_VERSION = re.compile(r"\d+(?:\.\d+)*")


def search_dirs(home: Path, env: Mapping[str, str]) -> list[Path]:
    """Directories searched for a tool's executable, in order."""
    dirs = [Path(p) for p in env.get("PATH", "").split(os.pathsep) if p]
    dirs += [home / d for d in HOME_DIRS]
    dirs += [Path(p) for p in sorted(glob.glob(str(home / NVM_GLOB)))]
    dirs += [Path(p) for p in SYSTEM_DIRS]
    return dirs


def find_executable(name: str, home: Path, env: Mapping[str, str]) -> Path | None:
    """The first executable file called `name` in the search directories."""
    for directory in search_dirs(home, env):
        candidate = directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def tool_version(executable: Path, env: Mapping[str, str]) -> str | None:
    """The last version-like token `<exe> --version` prints within 5 s, or None."""
    try:
        done = subprocess.run(
            [str(executable), "--version"],
            capture_output=True,
            timeout=VERSION_TIMEOUT_SECONDS,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    for stream in (done.stdout, done.stderr):
        tokens = _VERSION.findall(stream.decode("utf-8", "replace"))
        if tokens:
            return str(tokens[-1])
    return None
