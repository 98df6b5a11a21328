"""Turning `gephyr config set KEY VALUE` text into a typed value, and runtime-apply policies."""

from __future__ import annotations

import json
from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError

from gephyr_core.config.keys import get_path
from gephyr_core.config.overlay import parse_bool
from gephyr_core.config.settings import defaults
from gephyr_core.errors import BadRequest

RESTART_KEYS = {
    "server.host",
    "server.port",
    "server.allow_lan_access",
    "server.disable_prompt_routes",
    "admin.enabled",
    "monitor.queue_size",
}
WHEN_SAFE_PREFIXES = ("pool.", "upstream_proxy.", "providers.", "scheduler.", "oauth.")
_ORDER = ["always_hot_applied", "hot_applied_when_safe", "requires_restart"]


def parse_value(key: str, text: str) -> Any:
    """Parse text by the type of the key's default (TOML literal for unknown keys)."""
    try:
        default = get_path(defaults(), key)
    except KeyError:
        default = None
    try:
        if isinstance(default, bool):
            return parse_bool(text)
        if isinstance(default, int):
            return int(text.strip())
        if isinstance(default, float):
            return float(text.strip())
        if isinstance(default, list):
            return _parse_list(text)
        if isinstance(default, dict):
            return _literal(text, dict)
        if isinstance(default, str):
            return text
    except ValueError as exc:
        raise BadRequest(f"{key}: {exc}") from exc
    try:
        return _literal(text, object)
    except ValueError:
        return text


def _literal(text: str, kind: type) -> Any:
    for parse in (json.loads, lambda t: tomlkit.parse(f"v = {t}").unwrap()["v"]):
        try:
            value = parse(text)
        except (ValueError, ParseError):
            continue
        if isinstance(value, kind):
            return value
    raise ValueError(f"expected a {'table' if kind is dict else 'value'} literal")


def _parse_list(text: str) -> list[Any]:
    stripped = text.strip()
    if stripped.startswith("["):
        value = _literal(stripped, list)
        return list(value)
    return [p.strip() for p in stripped.split(",") if p.strip()]


def policy_for(key: str) -> str:
    """The runtime-apply policy of one dotted key (config.md §5)."""
    if key in RESTART_KEYS:
        return "requires_restart"
    if key.startswith(WHEN_SAFE_PREFIXES):
        return "hot_applied_when_safe"
    return "always_hot_applied"


def runtime_apply(changed: list[str]) -> dict[str, Any]:
    """`{policy, applied, requires_restart, restart_required_keys}` for a set of changed keys.

    `applied` is true when no key waits for a restart: a running server applies a saved
    file within seconds, so the answer is the same whether a server made the save or not.
    """
    policies = [policy_for(k) for k in changed] or ["always_hot_applied"]
    policy = max(policies, key=_ORDER.index)
    restart = sorted(k for k in changed if policy_for(k) == "requires_restart")
    return {
        "policy": policy,
        "applied": not restart,
        "requires_restart": bool(restart),
        "restart_required_keys": restart,
    }
