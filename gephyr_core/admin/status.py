"""Server and operator status operations."""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from gephyr_core import __version__
from gephyr_core.accounts.view import routable
from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import operation
from gephyr_core.errors import GephyrError
from gephyr_core.secrets import is_encrypted
from gephyr_core.store import accounts as table


@operation("server.health", "GET", "/api/health", runtime=True)
def health(ctx: AdminContext) -> dict[str, Any]:
    """Health of the running server."""
    ctx.require_runtime()
    return {"status": "ok", "version": __version__}


@operation("server.status", "GET", "/api/proxy/status", runtime=True)
def status(ctx: AdminContext) -> dict[str, Any]:
    """Whether the relay serves, its port, base URL and routable account count."""
    rt = ctx.require_runtime().status()
    return {k: rt[k] for k in ("running", "port", "base_url", "active_accounts")}


@operation("server.routes", "GET", "/api/version/routes")
def routes(ctx: AdminContext) -> dict[str, Any]:
    """Every admin route and operation this version serves."""
    from gephyr_core.admin import catalog

    ops = sorted(catalog().values(), key=lambda o: (o.path, o.method))
    listing = [f"{o.method} {p}" for o in ops for p in (o.path, *o.aliases)]
    return {
        "version": __version__,
        "routes": listing,
        "operations": [
            {
                "name": o.name,
                "method": o.method,
                "path": o.path,
                "runtime_only": o.runtime,
                "summary": o.summary,
            }
            for o in ops
        ],
    }


def encryption_status(ctx: AdminContext, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Key source and a trial decryption of every stored secret (no value leaves here)."""
    out: dict[str, Any] = {
        "keySource": "none",
        "keyId": None,
        "weakKey": False,
        "secretsSeen": 0,
        "decryptFailures": 0,
        "firstFailure": None,
    }
    try:
        source = ctx.box.source
        out.update(
            keySource="env" if source.kind == "env" else "file",
            keyId=ctx.box.cipher.kid,
            weakKey=bool(source.warnings) and source.kind == "env",
        )
    except GephyrError as exc:
        out["firstFailure"] = {"accountId": None, "label": None, "field": "key", "error": exc.message}
    values = [
        (row["id"], row["label"], field, row.get(col))
        for row in rows
        for field, col in (("account.secret", "secret"), ("account.access_token", "access_token"))
    ]
    with contextlib.suppress(GephyrError):  # an unparsable config.toml is reported elsewhere
        values += [(None, key, field, value) for key, field, value in ctx.config.encrypted_values()]
    for account_id, label, field, value in values:
        if not value:
            continue
        out["secretsSeen"] += 1
        try:
            if is_encrypted(value):
                ctx.box.decrypt(field, value)
        except GephyrError as exc:
            out["decryptFailures"] += 1
            if out["firstFailure"] is None:
                out["firstFailure"] = {
                    "accountId": account_id,
                    "label": label,
                    "field": field,
                    "error": exc.message,
                }
    return out


def _accounts_summary(ctx: AdminContext, rows: list[dict[str, Any]], preferred: str) -> dict[str, Any]:
    by_provider = {p: sum(r["provider"] == p for r in rows) for p in ("openai", "anthropic", "gemini")}
    pref = next((r for r in rows if r["id"] == preferred), None)
    return {
        "total": len(rows),
        "byProvider": by_provider,
        "routable": sum(routable(r) for r in rows),
        "disabled": sum(r["disabled"] for r in rows),
        "proxyDisabled": sum(r["proxy_disabled"] for r in rows),
        "forbidden": sum(r["forbidden"] for r in rows),
        "validationBlocked": sum(r["validation_blocked"] for r in rows),
        "missingCredential": sum(not r.get("secret") for r in rows),
        "withHeaderProfile": sum(r.get("header_profile_version") is not None for r in rows),
        "currentAccountId": ctx.store.meta("current_account_id") or None,
        "preferredAccountId": preferred or None,
        "preferredAccountRoutable": routable(pref) if pref else None,
    }


def _live(ctx: AdminContext) -> dict[str, Any]:
    """The runtime-only parts of the operator status (null without a server)."""
    rt: Any = ctx.runtime
    if rt is None:
        return {"oauthFlow": None, "proxiesHealthy": None, "queueDepth": None, "droppedLogWrites": None}
    proxies = rt.pool.config().proxies
    return {
        "oauthFlow": rt.oauth.flows.status(),
        "proxiesHealthy": sum(1 for p in proxies if p.enabled and rt.pool.healthy(p.id)),
        "queueDepth": len(rt.monitor.queue),
        "droppedLogWrites": rt.monitor.dropped,
    }


@operation("server.operator_status", "GET", "/api/proxy/operator-status")
def operator_status(ctx: AdminContext) -> dict[str, Any]:
    """Operator status: key source, secret decryptability, accounts, storage, config."""
    # Diagnostics must work when the key does not match: config secrets stay encrypted here.
    settings = ctx.runtime.settings if ctx.runtime else ctx.config.settings(ctx.env, ctx.overrides, False)
    rows = table.list_accounts(ctx.store)
    rt = ctx.runtime.status() if ctx.runtime is not None else None
    live = _live(ctx)
    enc = encryption_status(ctx, rows)
    admin_pw = bool(settings.get("auth.admin_password"))
    proxies = settings.get("pool.proxies") or []
    db = ctx.dd.db_path
    wal = db.with_name(db.name + "-wal")
    warnings = []
    if not admin_pw and settings.get("admin.enabled"):
        warnings.append("the admin API accepts the relay API key: set auth.admin_password")
    if enc["weakKey"]:
        warnings.append("the encryption passphrase is weak")
    if enc["decryptFailures"]:
        warnings.append(f"{enc['decryptFailures']} stored secret(s) do not decrypt (key mismatch)")
    accounts = _accounts_summary(ctx, rows, str(settings.get("routing.preferred_account_id") or ""))
    if accounts["preferredAccountRoutable"] is False:
        warnings.append("the preferred account is not routable")
    if rt is not None and not rt.get("running"):
        warnings.append("the relay is stopped (gephyr server start)")
    if live["droppedLogWrites"]:
        warnings.append(
            f"{live['droppedLogWrites']} request log write(s) dropped: the log queue was full"
            " (raise monitor.queue_size)"
        )
    return {
        "timestamp": int(time.time()),
        "version": __version__,
        "dataDir": str(ctx.dd.root),
        "runtimePort": rt["port"] if rt else None,
        "runtimeRunning": rt["running"] if rt else None,
        "uptimeSeconds": rt["uptime_seconds"] if rt else None,
        "adminApi": {
            "enabled": settings.get("admin.enabled"),
            "adminPasswordSet": admin_pw,
            "apiKeyFallback": not admin_pw and not settings.lan,
            "lanAccess": settings.lan,
            "authMode": settings.get("auth.mode"),
        },
        "oauth": {
            "provider": settings.get("oauth.provider"),
            "clientIdSet": bool(settings.get("oauth.client_id")),
            "clientSecretSet": bool(settings.get("oauth.client_secret")),
            "allowedDomainsSet": bool(settings.get("oauth.allowed_domains")),
        },
        "oauthFlow": live["oauthFlow"],
        "proxyPool": {
            "enabled": settings.get("pool.enabled"),
            "requireProxyForAccountRequests": settings.get("pool.require_proxy_for_account_requests"),
            "proxiesTotal": len(proxies),
            "proxiesEnabled": sum(bool(p.get("enabled", True)) for p in proxies),
            "proxiesHealthy": live["proxiesHealthy"],
        },
        "accounts": accounts,
        "encryption": enc,
        "storage": {
            "schemaVersion": ctx.store.meta("schema_version"),
            "sizeBytes": db.stat().st_size if db.exists() else 0,
            "walSizeBytes": wal.stat().st_size if wal.exists() else 0,
        },
        "monitor": {
            "enabled": settings.get("monitor.enabled"),
            "queueDepth": live["queueDepth"],
            "droppedLogWrites": live["droppedLogWrites"],
        },
        "config": {
            "overlays": _overlay_keys(settings.overlay_variables),
            "lastReloadError": rt.get("last_reload_error") if rt else None,
        },
        "warnings": warnings,
        "pid": os.getpid() if rt else None,
    }


def _overlay_keys(variables: tuple[str, ...]) -> list[str]:
    from gephyr_core.config.overlay import OVERLAYS

    out = []
    for var in variables:
        name = var.removeprefix("GEPHYR_").removeprefix("ABV_")
        for key, (target, _, aliases) in OVERLAYS.items():
            if name == key or name in aliases:
                out.append(target)
    return sorted(set(out))
