"""Config operations: the redacted document and validated, comment-preserving saves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tomlkit.toml_document import TOMLDocument

from gephyr_core.admin import audit as snap
from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import Audit, operation
from gephyr_core.config.keys import ENCRYPTED_KEYS, REDACTED, get_path, redact, set_path
from gephyr_core.config.settings import REPLACED_PATHS
from gephyr_core.config.values import runtime_apply
from gephyr_core.errors import BadRequest


@operation("config.get", "GET", "/api/config")
def get_config(ctx: AdminContext) -> dict[str, Any]:
    """The persisted config document (no overlays), every secret redacted."""
    return redact(ctx.config.persisted())


def _has_null(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_has_null(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_null(v) for v in value)
    return value is None


def _merge_into(doc: Any, posted: Mapping[str, Any], prefix: str, warnings: list[str]) -> None:
    for key, value in posted.items():
        path = f"{prefix}{key}"
        if not isinstance(key, str) or not key.strip() or "." in key:
            raise BadRequest(f"invalid config key {path!r}: keys are non-empty names without dots")
        if _has_null(value):  # TOML has no null: refuse it instead of failing to write the file
            raise BadRequest(f"{path}: null is not a config value")
        if isinstance(value, Mapping) and path not in REPLACED_PATHS:
            if key not in doc or not isinstance(doc[key], Mapping):
                set_path(doc, key, {})
            _merge_into(doc[key], value, path + ".", warnings)
            continue
        if path in ENCRYPTED_KEYS or path == "auth.api_key":
            if value == REDACTED:
                continue
            if path == "auth.api_key" and isinstance(value, str) and not value.strip():
                warnings.append("auth.api_key_preserved_from_existing")
                continue
        doc[key] = _restore_proxy_secrets(doc.get(key), value) if path == "pool.proxies" else value


def _restore_proxy_secrets(old: Any, new: Any) -> Any:
    if not isinstance(new, list):
        return new
    old_by_id = {p.get("id"): p for p in (old or []) if isinstance(p, Mapping)}
    for proxy in new:
        if not isinstance(proxy, dict):
            continue
        auth = proxy.get("auth")
        prev = old_by_id.get(proxy.get("id"), {}).get("auth") or {}
        if isinstance(auth, dict) and auth.get("password") == REDACTED:
            auth["password"] = prev.get("password", "")
    return new


def save_patch(ctx: AdminContext, patch: Mapping[str, Any]) -> dict[str, Any]:
    """Merge a partial document into config.toml (validated, atomic) and apply it."""
    warnings: list[str] = []

    def mutate(doc: TOMLDocument) -> None:
        _merge_into(doc, patch, "", warnings)

    changed, more = ctx.config.update(mutate)
    ctx.config_changed()
    apply = runtime_apply(changed)
    message = "saved" if changed else "no change"
    if apply["requires_restart"]:
        message += "; restart the server for: " + ", ".join(apply["restart_required_keys"])
    return {
        "ok": True,
        "saved": True,
        "message": message,
        "warnings": warnings + more,
        "runtime_apply": apply,
        "changed": changed,
    }


@operation("config.save", "POST", "/api/config", audit=Audit("config.save", snap.config_summary))
def save_config(ctx: AdminContext, config: dict[str, Any]) -> dict[str, Any]:
    """Merge, validate, save and hot-apply a (partial) config document."""
    if not config:
        raise BadRequest("config must be a non-empty object")
    return save_patch(ctx, config)


def reveal(ctx: AdminContext, key: str) -> Any:
    """One persisted value with secrets decrypted (CLI only: never served over HTTP)."""
    data = ctx.config.persisted()
    value = get_path(data, key)
    field = ENCRYPTED_KEYS.get(key)
    if field and isinstance(value, str):
        value = ctx.box.decrypt(field, value)
    return value


def _scoped_reply(ctx: AdminContext, patch: dict[str, Any], what: str) -> dict[str, Any]:
    result = save_patch(ctx, patch)
    result.pop("changed")
    result.pop("warnings")
    result["message"] = f"{what} saved" if result["message"] != "no change" else f"{what} unchanged"
    return result


@operation(
    "config.rotate_api_key",
    "POST",
    "/api/proxy/api-key/generate",
    audit=Audit("config.rotate_api_key", snap.config_keys("auth.api_key")),
)
def rotate_api_key(ctx: AdminContext) -> dict[str, Any]:
    """Generate a new relay API key, save it and apply it (the only response showing it)."""
    from gephyr_core.config.document import new_api_key
    from gephyr_core.config.overlay import env_lookup

    key = new_api_key()
    result = _scoped_reply(ctx, {"auth": {"api_key": key}}, "new relay API key")
    overlay = env_lookup(ctx.env, "API_KEY")
    if overlay is not None:
        result["message"] += f"; {overlay[0]} is set and still wins until it is removed"
    result["api_key"] = key
    return result


def _timeouts(ctx: AdminContext) -> dict[str, Any]:
    value = int(ctx.config.persisted()["server"]["request_timeout"])
    effective = int(ctx.settings().get("server.request_timeout"))
    return {"request_timeout": value, "effective_request_timeout": max(5, effective)}


@operation("config.request_timeout", "GET", "/api/proxy/request-timeout")
def get_request_timeout(ctx: AdminContext) -> dict[str, Any]:
    """The upstream request timeout in seconds, persisted and effective (at least 5)."""
    return _timeouts(ctx)


@operation(
    "config.set_request_timeout",
    "POST",
    "/api/proxy/request-timeout",
    aliases={"request_timeout": ("requestTimeoutSeconds", "request_timeout_seconds")},
    audit=Audit("config.update_request_timeout", snap.config_keys("server.request_timeout")),
)
def set_request_timeout(ctx: AdminContext, request_timeout: int) -> dict[str, Any]:
    """Set the upstream request timeout in seconds (validated, applied to the next request)."""
    result = _scoped_reply(ctx, {"server": {"request_timeout": request_timeout}}, "request timeout")
    return {**result, **_timeouts(ctx)}
