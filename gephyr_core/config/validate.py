"""Whole-document validation: every problem is collected, one message each."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from gephyr_core.config.keys import SECRET_KEYS, get_path
from gephyr_core.config.settings import defaults

Problem = dict[str, Any]

_HOST = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
SCHEDULING_MODES = {"cachefirst": "CacheFirst", "balance": "Balance", "performancefirst": "PerformanceFirst"}
POOL_STRATEGIES = {"round_robin", "random", "priority", "least_connections", "weighted_round_robin"}
PROVIDERS = {"openai", "anthropic", "gemini"}

# (dotted key, lowest, highest or None, only-when key or None)
_RANGES: tuple[tuple[str, int, int | None, str | None], ...] = (
    ("server.port", 1, 65535, None),
    ("server.request_timeout", 1, 600, None),
    ("server.max_body_size", 1024, None, None),
    ("server.shutdown_drain_timeout", 1, 600, None),
    ("admin.lockout_max_failures", 1, None, None),
    ("admin.lockout_window_seconds", 1, None, None),
    ("admin.lockout_seconds", 1, None, None),
    ("routing.max_attempts", 1, 10, None),
    ("routing.first_byte_timeout_seconds", 1, 600, None),
    ("routing.session_binding_ttl_seconds", 60, None, None),
    ("routing.max_session_bindings", 100, None, None),
    ("scheduling.max_wait_seconds", 0, 3600, None),
    ("compliance.max_global_requests_per_minute", 1, None, "compliance.enabled"),
    ("compliance.max_account_requests_per_minute", 1, None, "compliance.enabled"),
    ("compliance.max_account_concurrency", 1, None, "compliance.enabled"),
    ("compliance.max_retry_attempts", 1, None, "compliance.enabled"),
    ("compliance.risk_cooldown_seconds", 0, None, "compliance.enabled"),
    ("quota_protection.threshold_percentage", 1, 99, "quota_protection.enabled"),
    ("pool.health_check_interval", 10, None, None),
    ("oauth.flow_timeout_seconds", 60, 3600, None),
    ("oauth.refresh_window_seconds", 0, 3600, None),
    ("monitor.queue_size", 100, 1000000, None),
    ("monitor.retention_days", 1, None, None),
    ("monitor.token_usage_retention_days", 1, None, None),
    ("monitor.audit_retention_days", 1, None, None),
    ("monitor.max_captured_body_bytes", 0, None, None),
    ("metrics.max_model_labels", 1, None, None),
    ("scheduler.interval_seconds", 60, None, None),
    ("scheduler.bulk_refresh_concurrency", 1, None, None),
    ("startup_health.delay_min_seconds", 0, None, None),
    ("startup_health.delay_max_seconds", 0, None, None),
    ("startup_health.refresh_timeout_seconds", 1, 120, None),
    ("protocols.default_max_output_tokens", 1, None, None),
    ("protocols.completions_default_max_tokens", 1, None, None),
    ("protocols.fetch_max_bytes", 1, None, None),
    ("protocols.fetch_timeout_seconds", 1, None, None),
    ("protocols.ping_interval_seconds", 0, 300, None),
    ("logging.keep_days", 1, None, None),
)

_CHOICES: tuple[tuple[str, set[str]], ...] = (
    ("auth.mode", {"off", "strict", "all_except_health", "auto"}),
    ("cors.mode", {"strict", "permissive"}),
    ("pool.strategy", POOL_STRATEGIES),
    ("protocols.gemini_schema_mode", {"json_schema", "openapi"}),
    ("protocols.openai_max_tokens_field", {"max_tokens", "max_completion_tokens"}),
    ("logging.level", {"debug", "info", "warning", "error"}),
)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return {int: "integer", float: "number", str: "string", list: "array", dict: "table"}.get(
        type(value), type(value).__name__
    )


def _shown(field: str, value: Any) -> Any:
    return None if field in SECRET_KEYS or "password" in field else value


def _is_url(value: Any, schemes: tuple[str, ...] = ("http", "https")) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme in schemes and bool(parts.hostname)
    except ValueError:
        return False


def is_ip_or_cidr(value: str) -> bool:
    """True for an IPv4/IPv6 address or CIDR block with a valid prefix."""
    try:
        ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return False
    return True


def check_origin(value: Any) -> str | None:
    """Why a strict CORS origin is malformed, or None."""
    if not isinstance(value, str):
        return "must be a string"
    try:
        parts = urlsplit(value)
    except ValueError:
        return "not a URL"
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return "must be an absolute http(s) origin"
    if parts.path not in {"", "/"} or parts.query or parts.fragment or "@" in parts.netloc:
        return "must be an origin without path, query, fragment or userinfo"
    return None


class _Collector:
    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.problems: list[Problem] = []

    def get(self, key: str) -> Any:
        try:
            return get_path(self.data, key)
        except KeyError:
            return None

    def add(self, field: str, message: str, got: Any = None, show: bool = True) -> None:
        item: Problem = {"field": field, "message": message}
        shown = _shown(field, got)
        if show and shown is not None:
            item["got"] = shown
        self.problems.append(item)

    def check(self, key: str, ok: Callable[[Any], bool], message: str) -> None:
        value = self.get(key)
        if not ok(value):
            self.add(key, message, value)


def _check_types(c: _Collector, ref: Mapping[str, Any], node: Any, prefix: str, warnings: list[str]) -> None:
    if not isinstance(node, Mapping):
        return
    for key, value in node.items():
        path = f"{prefix}{key}"
        if path in {"routing.mapping", "oauth.providers", "pool.proxies", "protocols.passthrough_headers"}:
            continue
        if key not in ref:
            warnings.append(f"unknown key {path}")
            continue
        expected = ref[key]
        if isinstance(expected, dict):
            if not isinstance(value, Mapping):
                c.add(path, "must be a table", value)
            else:
                _check_types(c, expected, value, path + ".", warnings)
        elif isinstance(expected, bool) != isinstance(value, bool) or not isinstance(value, type(expected)):
            c.add(path, f"must be {_type_name(expected)}, not {_type_name(value)}", value)


def validate(data: Mapping[str, Any]) -> tuple[list[Problem], list[str]]:
    """Validate a full (defaults-merged) document: (problems, warnings)."""
    c = _Collector(data)
    warnings: list[str] = []
    _check_types(c, defaults(), data, "", warnings)
    typed_bad = {p["field"] for p in c.problems}
    for key, lo, hi, when in _RANGES:
        value = c.get(key)
        if key in typed_bad or (when and not c.get(when)) or not isinstance(value, int):
            continue
        if value < lo or (hi is not None and value > hi):
            rng = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            c.add(key, f"must be {rng}", value)
    for key, allowed in _CHOICES:
        value = c.get(key)
        if key not in typed_bad and value not in allowed:
            c.add(key, f"must be one of {', '.join(sorted(allowed))}", value)
    _check_server(c, warnings)
    _check_sections(c)
    return c.problems, warnings


def _check_server(c: _Collector, warnings: list[str]) -> None:
    host = c.get("server.host")
    if isinstance(host, str) and host and not (is_ip_or_cidr(host) and "/" not in host or _HOST.match(host)):
        c.add("server.host", "must be empty, an IP address or a host name", host)
    url = c.get("server.public_url")
    if isinstance(url, str) and url:
        parts = urlsplit(url)
        if not _is_url(url) or parts.query or parts.fragment:
            c.add("server.public_url", "must be an absolute http(s) URL without query or fragment", url)
    lan = bool(c.get("server.allow_lan_access")) or (
        isinstance(host, str) and host not in {"", "127.0.0.1", "::1", "localhost"}
    )
    if c.get("admin.enabled") is True and lan and not c.get("auth.admin_password"):
        c.add("admin.enabled", "the admin API with LAN access needs auth.admin_password", True)
    _check_auth(c, warnings)


def _check_auth(c: _Collector, warnings: list[str]) -> None:
    key = c.get("auth.api_key")
    if isinstance(key, str):
        if not key.strip():
            c.add("auth.api_key", "must not be blank", show=False)
        elif len(key) < 16:
            warnings.append("auth.api_key is shorter than 16 characters")
    for i, item in enumerate(c.get("auth.trusted_proxies") or []):
        if not isinstance(item, str) or not is_ip_or_cidr(item):
            c.add(f"auth.trusted_proxies[{i}]", "must be an IP address or CIDR block", item)
    if c.get("cors.mode") == "strict":
        for i, origin in enumerate(c.get("cors.allowed_origins") or []):
            why = check_origin(origin)
            if why:
                c.add(f"cors.allowed_origins[{i}]", why, origin)


def _check_mapping(c: _Collector) -> None:
    mapping = c.get("routing.mapping")
    if mapping is not None and not isinstance(mapping, Mapping):
        c.add("routing.mapping", "must be a table", mapping)
        return
    for key, target in (mapping or {}).items():
        field = f"routing.mapping.{key}"
        if not str(key).strip():
            c.add("routing.mapping", "mapping keys must not be empty", key)
        model, provider = mapping_target(target)
        if not model:
            c.add(field, "target needs a non-empty model", target)
        if provider is not None and provider not in PROVIDERS:
            c.add(field, f"unknown provider {provider!r}", target)


def _check_sections(c: _Collector) -> None:
    _check_mapping(c)
    mode = c.get("scheduling.mode")
    if isinstance(mode, str) and normalise_mode(mode) is None:
        c.add("scheduling.mode", "must be one of Balance, CacheFirst, PerformanceFirst", mode)
    if c.get("circuit_breaker.enabled"):
        steps = c.get("circuit_breaker.backoff_steps")
        if not steps or not all(isinstance(s, int) and s > 0 for s in steps):
            c.add("circuit_breaker.backoff_steps", "must be a non-empty list of positive seconds", steps)
    for name in ("openai", "anthropic", "gemini"):
        base = c.get(f"providers.{name}.base_url")
        if not _is_url(base):
            c.add(f"providers.{name}.base_url", "must be an absolute http(s) URL", base)
        models = c.get(f"providers.{name}.models")
        if not models:
            c.add(f"providers.{name}.models", "must not be empty", models)
    _check_oauth(c)
    _check_pool(c)


def _check_oauth(c: _Collector) -> None:
    providers = c.get("oauth.providers") or {}
    selected = c.get("oauth.provider")
    if selected not in providers:
        c.add("oauth.provider", "names no provider under [oauth.providers]", selected)
    for name, prov in providers.items() if isinstance(providers, Mapping) else ():
        if not isinstance(prov, Mapping):
            c.add(f"oauth.providers.{name}", "must be a table", prov)
            continue
        for key, value in prov.items():
            if key.endswith("_endpoint") or key == "jwks_uri":
                if not _is_url(value, ("https",)) and not (_is_url(value, ("http",)) and _loopback(value)):
                    c.add(
                        f"oauth.providers.{name}.{key}",
                        "must be an absolute https URL (http only for loopback)",
                        value,
                    )


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_pool(c: _Collector) -> None:
    proxies = c.get("pool.proxies") or []
    if not isinstance(proxies, list):
        c.add("pool.proxies", "must be an array of tables", proxies)
        return
    seen: set[str] = set()
    for i, proxy in enumerate(proxies):
        field = f"pool.proxies[{i}]"
        if not isinstance(proxy, Mapping):
            c.add(field, "must be a table", proxy)
            continue
        pid = proxy.get("id")
        if not isinstance(pid, str) or not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", pid):
            c.add(f"{field}.id", "must be a slug [a-z0-9][a-z0-9_-]{0,63}", pid)
        elif pid in seen:
            c.add(f"{field}.id", "duplicate proxy id", pid)
        else:
            seen.add(pid)
        if not _is_url(proxy.get("url"), ("http", "https", "socks5", "socks5h")):
            c.add(f"{field}.url", "must be an http, https or socks5 URL", None)
    if c.get("upstream_proxy.enabled") and not _is_url(
        c.get("upstream_proxy.url"), ("http", "https", "socks5", "socks5h")
    ):
        c.add("upstream_proxy.url", "must be an http, https or socks5 URL when enabled", None)


def mapping_target(target: Any) -> tuple[str, str | None]:
    """(model, provider or None) of a mapping target, string or table form."""
    if isinstance(target, str):
        head, sep, rest = target.partition(":")
        if sep and head in PROVIDERS:
            return rest.strip(), head
        return target.strip(), None
    if isinstance(target, Mapping):
        name = target.get("model")
        kind = target.get("provider")
        return (str(name).strip() if name else ""), (str(kind) if kind else None)
    return "", None


def normalise_mode(value: str) -> str | None:
    """PascalCase scheduling mode for any spelling (case, `_` and `-` ignored), or None."""
    return SCHEDULING_MODES.get(value.replace("_", "").replace("-", "").lower())
