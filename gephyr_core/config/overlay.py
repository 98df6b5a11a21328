"""Environment overlays: GEPHYR_<NAME>, then ABV_<NAME>, then <NAME>; in memory only."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


def parse_bool(value: str) -> bool:
    """Parse `1|true|yes|on` / `0|false|no|off` (any case)."""
    v = value.strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise ValueError("expected a boolean (true/false, 1/0, yes/no, on/off)")


def _int_range(lo: int, hi: int | None = None) -> Callable[[str], int]:
    def parse(value: str) -> int:
        n = int(value.strip())
        if n < lo or (hi is not None and n > hi):
            raise ValueError(f"expected an integer in {lo}..{hi}" if hi else f"expected >= {lo}")
        return n

    return parse


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("empty")
    return value.strip()


def _auth_mode(value: str) -> str:
    v = value.strip().lower()
    if v == "auto":
        return "strict"
    if v not in {"off", "strict", "all_except_health"}:
        raise ValueError("expected off, strict, all_except_health or auto")
    return v


def _url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("expected an absolute http(s) URL")
    return value.strip()


def _comma_list(value: str) -> list[str]:
    return [p.strip().lower() for p in value.split(",") if p.strip()]


def _level(value: str) -> str:
    v = value.strip().lower()
    if v not in {"debug", "info", "warning", "error"}:
        raise ValueError("expected debug, info, warning or error")
    return v


# NAME -> (target key, parser, aliases read only when NAME is absent)
OVERLAYS: dict[str, tuple[str, Callable[[str], Any], tuple[str, ...]]] = {
    "API_KEY": ("auth.api_key", _non_empty, ()),
    "WEB_PASSWORD": ("auth.admin_password", _non_empty, ()),
    "AUTH_MODE": ("auth.mode", _auth_mode, ()),
    "ALLOW_LAN_ACCESS": ("server.allow_lan_access", parse_bool, ()),
    "PORT": ("server.port", _int_range(1, 65535), ()),
    "MAX_BODY_SIZE": ("server.max_body_size", _int_range(1), ()),
    "ENABLE_ADMIN_API": ("admin.enabled", parse_bool, ()),
    "ADMIN_STOP_SHUTDOWN": ("admin.stop_shuts_down", parse_bool, ()),
    "PUBLIC_URL": ("server.public_url", _url, ()),
    "OAUTH_CLIENT_ID": ("oauth.client_id", _non_empty, ("GOOGLE_OAUTH_CLIENT_ID",)),
    "OAUTH_CLIENT_SECRET": ("oauth.client_secret", _non_empty, ("GOOGLE_OAUTH_CLIENT_SECRET",)),
    "ALLOWED_OAUTH_DOMAINS": ("oauth.allowed_domains", _comma_list, ("ALLOWED_GOOGLE_DOMAINS",)),
    "SHUTDOWN_DRAIN_TIMEOUT_SECS": ("server.shutdown_drain_timeout", _int_range(1, 600), ()),
    "DISABLE_PROMPT_ROUTES": ("server.disable_prompt_routes", parse_bool, ()),
    "LOG_LEVEL": ("logging.level", _level, ()),
    "SCHEDULER_REFRESH_JITTER_MIN_SECONDS": ("scheduler.refresh_jitter_min_seconds", _int_range(0), ()),
    "SCHEDULER_REFRESH_JITTER_MAX_SECONDS": ("scheduler.refresh_jitter_max_seconds", _int_range(0), ()),
    "SCHEDULER_ACCOUNT_REFRESH_MIN_SECONDS": ("scheduler.account_gap_min_seconds", _int_range(0), ()),
    "SCHEDULER_ACCOUNT_REFRESH_MAX_SECONDS": ("scheduler.account_gap_max_seconds", _int_range(0), ()),
    "ACCOUNT_REFRESH_STAGGER_MIN_MS": ("scheduler.refresh_stagger_min_ms", _int_range(0), ()),
    "ACCOUNT_REFRESH_STAGGER_MAX_MS": ("scheduler.refresh_stagger_max_ms", _int_range(0), ()),
    "STARTUP_HEALTH_DELAY_MIN_SECONDS": ("startup_health.delay_min_seconds", _int_range(0), ()),
    "STARTUP_HEALTH_DELAY_MAX_SECONDS": ("startup_health.delay_max_seconds", _int_range(0), ()),
}

SECRET_NAMES = {"API_KEY", "WEB_PASSWORD", "OAUTH_CLIENT_SECRET", "ENCRYPTION_KEY"}


def env_lookup(env: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """First non-empty of GEPHYR_<name>, ABV_<name>, <name>, as (variable, value)."""
    for var in (f"GEPHYR_{name}", f"ABV_{name}", name):
        value = env.get(var, "")
        if value.strip():
            return var, value
    return None


@dataclass
class Overlay:
    """Parsed overlays: dotted key -> value, the variables used, and warnings."""

    values: dict[str, Any] = field(default_factory=dict)
    variables: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_overlays(env: Mapping[str, str]) -> Overlay:
    """Read every overlay from `env`; invalid values are ignored with a warning."""
    out = Overlay()
    for name, (target, parse, aliases) in OVERLAYS.items():
        found = env_lookup(env, name)
        for alias in aliases:
            if found is None:
                found = env_lookup(env, alias)
        if found is None:
            continue
        var, raw = found
        try:
            out.values[target] = parse(raw)
            out.variables.append(var)
        except ValueError as exc:
            shown = "" if name in SECRET_NAMES else f" ({raw!r})"
            out.warnings.append(f"ignoring {var}{shown}: {exc}")
    return out
