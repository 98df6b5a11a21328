"""The immutable settings snapshot: defaults ← config.toml ← env overlays ← CLI options."""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import tomlkit

from gephyr_core.config.keys import deep_merge, get_path, set_path
from gephyr_core.config.overlay import read_overlays


@functools.cache
def template_text() -> str:
    """The commented template written as config.toml on first use."""
    return resources.files("gephyr_core.data").joinpath("config_template.toml").read_text()


@functools.cache
def _defaults() -> dict[str, Any]:
    data: dict[str, Any] = tomlkit.parse(template_text()).unwrap()
    builtin = resources.files("gephyr_core.data").joinpath("oauth_providers.toml").read_text()
    data["oauth"]["providers"] = tomlkit.parse(builtin).unwrap()
    data["pool"]["proxies"] = []
    return data


def defaults() -> dict[str, Any]:
    """A fresh copy of every default value."""
    return copy.deepcopy(_defaults())


# Replaced whole rather than merged when a document sets them.
REPLACED_PATHS = ("routing.mapping", "pool.proxies")


def with_defaults(document: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults with the persisted document merged over them."""
    return deep_merge(defaults(), document, replace=REPLACED_PATHS)


@dataclass(frozen=True)
class Settings:
    """One immutable view of the effective configuration."""

    data: Mapping[str, Any]
    overlay_variables: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    def get(self, key: str, default: Any = None) -> Any:
        """Value at a dotted path (a copy for mutable values)."""
        try:
            value = get_path(self.data, key)
        except KeyError:
            return default
        return copy.deepcopy(value) if isinstance(value, dict | list) else value

    @property
    def lan(self) -> bool:
        """True when the server is reachable from other hosts."""
        host = str(self.get("server.host") or "")
        return bool(self.get("server.allow_lan_access")) or host not in {"", "127.0.0.1", "::1", "localhost"}

    @property
    def bind_host(self) -> str:
        """The address the listener binds."""
        host = str(self.get("server.host") or "")
        if host:
            return host
        return "0.0.0.0" if self.get("server.allow_lan_access") else "127.0.0.1"


def build_settings(
    document: Mapping[str, Any],
    env: Mapping[str, str],
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge defaults, a (decrypted) document, env overlays and option overrides."""
    data = with_defaults(document)
    overlay = read_overlays(env)
    warnings = list(overlay.warnings)
    for key, value in overlay.values.items():
        set_path(data, key, value)
    for key, value in (overrides or {}).items():
        set_path(data, key, value)
    for section, lo, hi in _PAIRS:
        sec = data.get(section, {})
        if isinstance(sec.get(lo), int) and isinstance(sec.get(hi), int) and sec[lo] > sec[hi]:
            sec[lo], sec[hi] = sec[hi], sec[lo]
            warnings.append(f"{section}.{lo} > {section}.{hi}: values swapped")
    settings = Settings(data, tuple(overlay.variables), tuple(warnings))
    if data["auth"].get("mode") == "all_except_health":
        data["auth"]["mode"] = "strict"
    if data["auth"].get("mode") == "off" and settings.lan:
        data["auth"]["mode"] = "strict"
        warnings.append("auth.mode = off is not honoured with LAN access: using strict")
    return Settings(data, tuple(overlay.variables), tuple(warnings))


_PAIRS = (
    ("scheduler", "refresh_jitter_min_seconds", "refresh_jitter_max_seconds"),
    ("scheduler", "account_gap_min_seconds", "account_gap_max_seconds"),
    ("scheduler", "refresh_stagger_min_ms", "refresh_stagger_max_ms"),
    ("startup_health", "delay_min_seconds", "delay_max_seconds"),
)
