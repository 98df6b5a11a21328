"""The three file formats client tools use: JSON, TOML (comments kept) and `.env` lines.

A document is parsed once, edited in place by a target's rules, and dumped back. `.env`
documents are lists of lines, so untouched lines and comments survive byte for byte.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gephyr_core.errors import Conflict

_SECRET_NAME = re.compile(r"key|token|secret|password", re.IGNORECASE)
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


def unparseable(path: str, reason: str) -> Conflict:
    """409 for a file sync must not touch (it is left as it is)."""
    return Conflict(
        f"{path} cannot be parsed ({reason}); fix or move it, then sync again",
        details={"reason": "unparseable_target", "file": path},
    )


def parse(kind: str, text: str, path: str) -> Any:
    """A document of `kind` (json, toml, env) from text; empty text is an empty document."""
    if kind == "env":
        return text.splitlines()
    if kind == "toml":
        import tomlkit
        from tomlkit.exceptions import TOMLKitError

        try:
            return tomlkit.parse(text)
        except TOMLKitError as exc:
            raise unparseable(path, str(exc).split("\n")[0]) from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise unparseable(path, str(exc)) from None
    if not isinstance(data, dict):
        raise unparseable(path, "the top level is not an object")
    return data


def dump(kind: str, doc: Any) -> str:
    """Text of a document."""
    if kind == "env":
        return "".join(f"{line}\n" for line in doc)
    if kind == "toml":
        import tomlkit

        return tomlkit.dumps(doc)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def is_empty(kind: str, doc: Any) -> bool:
    """Whether a document holds nothing (a restore then deletes the file)."""
    if kind == "env":
        return not any(line.strip() for line in doc)
    if kind == "toml":
        return not doc.unwrap()
    return not doc


def mask_value(value: str) -> str:
    """`…` + the last 4 characters."""
    return "…" + value[-4:] if len(value) > 4 else "…"


def _mask_tree(node: Any) -> None:
    items = node.items() if hasattr(node, "items") else enumerate(node) if isinstance(node, list) else ()
    for key, value in list(items):
        if isinstance(value, str) and isinstance(key, str) and _SECRET_NAME.search(key):
            node[key] = mask_value(value)
        elif isinstance(value, dict | list) or hasattr(value, "items"):
            _mask_tree(value)


def masked_text(kind: str, doc: Any) -> str:
    """The document's text with secret-looking values masked (show config)."""
    if kind == "env":
        lines = []
        for line in doc:
            m = _ENV_LINE.match(line)
            if m and _SECRET_NAME.search(m.group(1)):
                line = f"{m.group(1)}={mask_value(unquote(m.group(2)))}"
            lines.append(line)
        return dump("env", lines)
    _mask_tree(doc)
    return dump(kind, doc)


def unquote(value: str) -> str:
    """An `.env` value without surrounding quotes or a trailing comment."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value.split(" #", 1)[0].strip()


def env_get(lines: list[str], name: str) -> str | None:
    """The last value of an `.env` variable."""
    found = None
    for line in lines:
        m = _ENV_LINE.match(line)
        if m and m.group(1) == name:
            found = unquote(m.group(2))
    return found


def env_set(lines: list[str], name: str, value: str) -> None:
    """Replace the variable's lines in place (first kept, others dropped) or append it."""
    done = False
    for i, line in enumerate(list(lines)):
        m = _ENV_LINE.match(line)
        if m and m.group(1) == name:
            if done:
                lines[i] = "\0"
            else:
                lines[i] = f"{name}={value}"
                done = True
    lines[:] = [line for line in lines if line != "\0"]
    if not done:
        lines.append(f"{name}={value}")


def env_remove(lines: list[str], name: str) -> bool:
    """Drop every line setting the variable; True when one was dropped."""
    kept = [line for line in lines if not ((m := _ENV_LINE.match(line)) and m.group(1) == name)]
    removed = len(kept) != len(lines)
    lines[:] = kept
    return removed
