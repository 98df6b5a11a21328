"""Status, sync, restore and show for one target, on the files under one home directory.

Sync parses every file of the target before writing any, so an unparsable file stops the
whole sync with nothing changed. The first change to an existing file copies it to
`<file>.gephyr.bak` (never overwritten); writes go through a temporary file and a rename.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gephyr_core.datadir import write_private
from gephyr_core.errors import BadRequest, Conflict, NotFound, StorageError
from gephyr_core.integrations import formats
from gephyr_core.integrations.detect import find_executable, tool_version
from gephyr_core.integrations.targets import FileRule, Link, Target

BACKUP_SUFFIX = ".gephyr.bak"


def backup_of(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


def _read(rule: FileRule, path: Path) -> Any | None:
    """The parsed document, or None when the file does not exist (409 when unparsable)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise formats.unparseable(str(path), "not UTF-8 text") from None
    return formats.parse(rule.kind, text, str(path))


def _write(path: Path, text: str) -> None:
    """Atomic replace keeping an existing file's mode (new files 0600, new directories 0700)."""
    path = path.resolve()  # a symlinked dotfile stays a symlink
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o600
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(path, text.encode("utf-8"), mode)


def _paths(target: Target, home: Path) -> list[tuple[FileRule, Path]]:
    return [(rule, home / rule.relpath) for rule in target.files]


def sync(target: Target, home: Path, link: Link) -> dict[str, Any]:
    """Write the documented keys into every file of the target."""
    plans = []
    for rule, path in _paths(target, home):
        doc = _read(rule, path)
        before = None if doc is None else path.read_bytes()
        doc = formats.parse(rule.kind, "", str(path)) if doc is None else doc
        rule.write(doc, link)
        plans.append((path, before, formats.dump(rule.kind, doc)))
    files, backups = [], []
    try:
        for path, before, text in plans:
            if before is not None and before == text.encode("utf-8"):
                continue
            if before is not None and not backup_of(path).exists():
                shutil.copy2(path.resolve(), backup_of(path))
                backups.append(str(backup_of(path)))
            _write(path, text)
            files.append(str(path))
    except OSError as exc:
        raise StorageError(f"cannot write {exc.filename}: {exc.strerror}") from None
    return {"ok": True, "files": files, "backups": backups}


def restore(target: Target, home: Path) -> dict[str, Any]:
    """Put each file back from its backup, or remove Gephyr's keys when there is none."""
    restored, cleaned = [], []
    for rule, path in _paths(target, home):
        backup = backup_of(path)
        if backup.exists():
            os.replace(backup, path.resolve() if path.is_symlink() else path)
            restored.append(str(path))
            continue
        doc = _read(rule, path)
        if doc is None or not rule.remove(doc):
            continue
        if formats.is_empty(rule.kind, doc):
            path.unlink()
        else:
            _write(path, formats.dump(rule.kind, doc))
        cleaned.append(str(path))
    if not restored and not cleaned:
        raise NotFound(f"nothing to restore for {target.cli_name}: no backup and no Gephyr settings")
    return {"ok": True, "restored": restored, "cleaned": cleaned}


def status(target: Target, home: Path, env: Mapping[str, str], url: str) -> dict[str, Any]:
    """Installed, version, whether it points at `url`, backups and files."""
    docs: dict[str, Any] = {}
    files, current = [], None
    for rule, path in _paths(target, home):
        try:
            doc = _read(rule, path)
        except Conflict:
            doc = None  # an unparsable file simply does not point at us
        if doc is not None:
            docs[rule.name] = doc
            current = current or rule.base_url(doc)
        has_backup = backup_of(path).exists()
        files.append(
            {"name": rule.name, "path": str(path), "exists": path.exists(), "has_backup": has_backup}
        )
    exe = find_executable(target.executable, home, env)
    return {
        "installed": exe is not None,
        "version": tool_version(exe, env) if exe is not None else None,
        "is_synced": target.synced(docs, url),
        "has_backup": any(f["has_backup"] for f in files),
        "current_base_url": current,
        "files": files,
    }


def show(target: Target, home: Path, file_name: str | None) -> dict[str, Any]:
    """One file of the target with secret-looking values masked."""
    rules = {rule.name: rule for rule in target.files}
    rule = target.files[0] if not file_name else rules.get(file_name)
    if rule is None:
        raise BadRequest(f"unknown file {file_name!r} for {target.cli_name}; use one of {', '.join(rules)}")
    path = home / rule.relpath
    doc = _read(rule, path)
    if doc is None:
        raise NotFound(f"{path} does not exist")
    content = formats.masked_text(rule.kind, doc)
    return {"name": rule.name, "path": str(path), "exists": True, "content": content}
