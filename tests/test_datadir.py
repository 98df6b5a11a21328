"""Data-dir resolution order, layout and server.json staleness."""

from __future__ import annotations

import os
from pathlib import Path

from gephyr_core.datadir import DataDir, read_server_json, resolve_data_dir, write_server_json


def test_resolution_order(tmp_path: Path) -> None:
    env = {
        "GEPHYR_DATA_DIR": str(tmp_path / "g"),
        "ABV_DATA_DIR": str(tmp_path / "a"),
        "DATA_DIR": str(tmp_path / "d"),
        "HOME": str(tmp_path / "home"),
    }
    assert resolve_data_dir(str(tmp_path / "opt"), env) == tmp_path / "opt"
    assert resolve_data_dir(None, env) == tmp_path / "g"
    assert resolve_data_dir(None, {**env, "GEPHYR_DATA_DIR": "  "}) == tmp_path / "a"
    assert resolve_data_dir(None, {"DATA_DIR": str(tmp_path / "d"), "HOME": env["HOME"]}) == tmp_path / "d"
    assert resolve_data_dir(None, {"HOME": env["HOME"]}) == tmp_path / "home" / ".gephyr"


def test_created_private_and_stale_server_json_ignored(tmp_path: Path) -> None:
    dd = DataDir(tmp_path / "x").ensure()
    assert oct(os.stat(dd.root).st_mode & 0o777) == "0o700"
    write_server_json(dd, {"pid": os.getpid(), "base_url": "http://127.0.0.1:1"})
    assert oct(os.stat(dd.server_json_path).st_mode & 0o777) == "0o600"
    assert read_server_json(dd) is not None
    write_server_json(dd, {"pid": 2**22 + 12345, "base_url": "http://127.0.0.1:1"})
    assert read_server_json(dd) is None
    dd.server_json_path.write_text("{not json")
    assert read_server_json(dd) is None
