"""Dotted key paths, secret fields and redaction for the config document."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REDACTED = "__redacted__"

#: config secrets encrypted at rest, with their AES-GCM associated-data field name
ENCRYPTED_KEYS = {
    "auth.admin_password": "config.admin_password",
    "oauth.client_secret": "config.oauth_client_secret",
}
#: every secret key path the API redacts (api_key stays plain text in the file)
SECRET_KEYS = ("auth.api_key", *ENCRYPTED_KEYS)


def split_key(key: str) -> list[str]:
    """Split `a.b.c` into parts; empty parts are refused."""
    parts = key.strip().split(".")
    if not key.strip() or any(not p for p in parts):
        raise ValueError(f"invalid key {key!r}")
    return parts


def get_path(data: Mapping[str, Any], key: str) -> Any:
    """Value at a dotted path; KeyError when absent."""
    node: Any = data
    for part in split_key(key):
        if not isinstance(node, Mapping) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def set_path(data: Any, key: str, value: Any) -> None:
    """Set a dotted path, creating tables as needed (works on dicts and tomlkit tables)."""
    import tomlkit

    parts = split_key(key)
    node = data
    for part in parts[:-1]:
        if part not in node:
            node[part] = tomlkit.table() if hasattr(node, "as_string") else {}
        node = node[part]
        if not isinstance(node, Mapping):
            raise KeyError(key)
    node[parts[-1]] = value


def deep_merge(
    base: dict[str, Any], over: Mapping[str, Any], replace: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Tables merge key by key; other values (arrays included) and `replace` paths replace."""
    out = copy.deepcopy(base)

    def merge(dst: dict[str, Any], src: Mapping[str, Any], prefix: str) -> None:
        for k, v in src.items():
            path = f"{prefix}{k}"
            if isinstance(v, Mapping) and isinstance(dst.get(k), dict) and path not in replace:
                merge(dst[k], v, path + ".")
            else:
                dst[k] = copy.deepcopy(v)

    merge(out, over, "")
    return out


_URL_USERINFO = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@]*:[^/@]*@", re.I)


def redact_url(url: str) -> str:
    """Replace the password part of a URL with userinfo by the sentinel."""
    if not isinstance(url, str) or not _URL_USERINFO.match(url):
        return url
    parts = urlsplit(url)
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:{REDACTED}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def redact(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the document with every secret replaced by the sentinel."""
    out = copy.deepcopy(dict(data))
    for key in SECRET_KEYS:
        try:
            value = get_path(out, key)
        except KeyError:
            continue
        if value:
            set_path(out, key, REDACTED)
    pool = out.get("pool")
    if isinstance(pool, dict):
        for proxy in pool.get("proxies") or []:
            if not isinstance(proxy, dict):
                continue
            if isinstance(proxy.get("url"), str):
                proxy["url"] = redact_url(proxy["url"])
            auth = proxy.get("auth")
            if isinstance(auth, dict) and auth.get("password"):
                auth["password"] = REDACTED
    up = out.get("upstream_proxy")
    if isinstance(up, dict) and isinstance(up.get("url"), str):
        up["url"] = redact_url(up["url"])
    return out


def is_secret_key(key: str) -> bool:
    """True for keys whose value must never be printed unless revealed."""
    return key in SECRET_KEYS or key.endswith(".password") or key.startswith("pool.proxies")
