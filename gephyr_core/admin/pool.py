"""Egress proxy pool operations (pool.md §6): scoped patches of `[pool]`, bindings in the store."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import tomlkit
from tomlkit.toml_document import TOMLDocument

from gephyr_core.admin import audit as snap
from gephyr_core.admin.context import AdminContext
from gephyr_core.admin.registry import Audit, Reply, operation
from gephyr_core.config.values import runtime_apply
from gephyr_core.errors import BadRequest, Conflict, NotFound, ValidationFailed
from gephyr_core.pool.config import STRATEGIES, normalise_url
from gephyr_core.store import accounts as accounts_table
from gephyr_core.store import pool as pool_table

_SWITCHES = (
    "enabled",
    "auto_failover",
    "allow_shared_proxy_fallback",
    "require_proxy_for_account_requests",
    "health_check_interval",
    "health_check_url",
)
_FIELDS = ("id", "name", "url", "enabled", "priority", "tags", "max_accounts", "health_check_url", "auth")


def _router(ctx: AdminContext) -> Any:
    return getattr(ctx.runtime, "pool", None)


def _section(ctx: AdminContext) -> dict[str, Any]:
    return dict(ctx.config.persisted().get("pool") or {})


def _snapshot(ctx: AdminContext) -> dict[str, Any]:
    pool = _section(ctx)
    proxies = pool.get("proxies") or []
    router = _router(ctx)
    healthy = [
        p for p in proxies if p.get("enabled", True) and (router is None or router.healthy(p.get("id")))
    ]
    return {
        "strategy": pool.get("strategy"),
        **{k: pool.get(k) for k in _SWITCHES[:5]},
        "proxies_total": len(proxies),
        "proxies_enabled": sum(1 for p in proxies if p.get("enabled", True)),
        "proxies_healthy": len(healthy),
    }


def _view(raw: dict[str, Any], bindings: dict[str, str], router: Any) -> dict[str, Any]:
    auth = raw.get("auth") if isinstance(raw.get("auth"), dict) else None
    view = {
        "id": raw.get("id"),
        "name": raw.get("name", ""),
        "url": raw.get("url"),
        "enabled": raw.get("enabled", True),
        "priority": raw.get("priority", 0),
        "tags": list(raw.get("tags") or []),
        "max_accounts": raw.get("max_accounts", 0),
        "health_check_url": raw.get("health_check_url", ""),
        "auth": {"username": auth.get("username", ""), "password_set": bool(auth.get("password"))}
        if auth
        else None,
    }
    runtime = router.runtime_view(str(raw.get("id"))) if router is not None else {}
    view.update(
        {k: runtime.get(k) for k in ("is_healthy", "latency_ms", "last_check_time", "last_error")},
        selections_total=runtime.get("selections_total", 0),
        in_flight=runtime.get("in_flight", 0),
        bound_accounts=sorted(a for a, p in bindings.items() if p == raw.get("id")),
    )
    return view


def _views(ctx: AdminContext, router: Any = None) -> list[dict[str, Any]]:
    bindings = pool_table.load(ctx.store)
    router = router or _router(ctx)
    return [_view(p, bindings, router) for p in _section(ctx).get("proxies") or []]


@operation("pool.config", "GET", "/api/proxy/pool/config")
def show(ctx: AdminContext) -> dict[str, Any]:
    """Pool settings, proxies (no passwords) and account bindings."""
    pool = _section(ctx)
    settings = {k: pool.get(k) for k in ("strategy", *_SWITCHES)}
    return {**settings, "proxies": _views(ctx), "account_bindings": pool_table.load(ctx.store)}


@operation("pool.strategy", "GET", "/api/proxy/pool/strategy")
def strategy(ctx: AdminContext) -> dict[str, Any]:
    """The pool snapshot (strategy and switches)."""
    return _snapshot(ctx)


@operation("pool.runtime", "GET", "/api/proxy/pool/runtime")
def runtime(ctx: AdminContext) -> dict[str, Any]:
    """The pool snapshot."""
    return _snapshot(ctx)


def _save(ctx: AdminContext, mutate: Callable[[TOMLDocument], None], message: str) -> dict[str, Any]:
    changed, _warnings = ctx.config.update(mutate)
    ctx.config_changed()
    return {
        "ok": True,
        "saved": True,
        "message": message,
        "runtime_apply": runtime_apply(changed),
        "proxy_pool": _snapshot(ctx),
    }


def _pool_table(doc: TOMLDocument) -> Any:
    if "pool" not in doc:
        doc["pool"] = tomlkit.table()
    return doc["pool"]


@operation(
    "pool.update_strategy",
    "POST",
    "/api/proxy/pool/strategy",
    aliases={"strategy": ("proxySelectionStrategy", "proxy_selection_strategy")},
    audit=Audit("pool.update_strategy", snap.config_keys("pool.strategy")),
)
def set_strategy(ctx: AdminContext, strategy: str | None = None) -> dict[str, Any]:
    """Change the selection strategy."""
    if strategy is None:
        raise BadRequest("give strategy: " + ", ".join(STRATEGIES))
    if strategy not in STRATEGIES:
        problem = {"field": "pool.strategy", "message": "must be one of " + ", ".join(STRATEGIES)}
        raise ValidationFailed([{**problem, "value": strategy}])

    def mutate(doc: TOMLDocument) -> None:
        _pool_table(doc)["strategy"] = strategy

    return _save(ctx, mutate, f"strategy set to {strategy}")


@operation(
    "pool.update_runtime",
    "POST",
    "/api/proxy/pool/runtime",
    aliases={
        "enabled": ("poolEnabled",),
        "health_check_interval": ("healthCheckIntervalSeconds",),
    },
    audit=Audit("pool.update_runtime", snap.config_keys(*snap.POOL_RUNTIME)),
)
def set_runtime(
    ctx: AdminContext,
    enabled: bool | None = None,
    auto_failover: bool | None = None,
    allow_shared_proxy_fallback: bool | None = None,
    require_proxy_for_account_requests: bool | None = None,
    health_check_interval: int | None = None,
    health_check_url: str | None = None,
) -> dict[str, Any]:
    """Change pool switches (omitted ones keep their values)."""
    given = {
        k: v
        for k, v in zip(
            _SWITCHES,
            (
                enabled,
                auto_failover,
                allow_shared_proxy_fallback,
                require_proxy_for_account_requests,
                health_check_interval,
                health_check_url,
            ),
            strict=True,
        )
        if v is not None
    }
    if not given:
        raise BadRequest("give at least one of " + ", ".join(_SWITCHES))
    if health_check_interval is not None and health_check_interval < 1:
        raise ValidationFailed([{"field": "pool.health_check_interval", "message": "must be ≥ 1"}])

    def mutate(doc: TOMLDocument) -> None:
        table = _pool_table(doc)
        for key, value in given.items():
            table[key] = value

    return _save(ctx, mutate, f"{len(given)} pool setting(s) changed")


@operation("pool.proxies", "GET", "/api/proxy/pool/proxies")
def list_proxies(ctx: AdminContext) -> list[dict[str, Any]]:
    """Every proxy with its runtime health and counters."""
    return _views(ctx)


def _clean(fields: dict[str, Any], partial: bool) -> dict[str, Any]:
    """Check and normalise proxy fields from a request body."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key not in _FIELDS:
            raise BadRequest(f"unknown proxy field {key!r}: use " + ", ".join(_FIELDS))
        if value is None and key != "auth":
            raise BadRequest(f"{key} must not be null")
        out[key] = value
    if not partial and not out.get("url"):
        raise BadRequest("url is required")
    if "url" in out:
        try:
            out["url"] = normalise_url(str(out["url"]))
        except ValueError as exc:
            raise ValidationFailed([{"field": "url", "message": str(exc)}]) from None
    _check_numbers_and_auth(out)
    return out


def _check_numbers_and_auth(out: dict[str, Any]) -> None:
    for key in ("priority", "max_accounts"):
        if key in out and (isinstance(out[key], bool) or not isinstance(out[key], int)):
            raise BadRequest(f"{key} must be an integer")
    if out.get("max_accounts", 0) < 0:
        raise ValidationFailed([{"field": "max_accounts", "message": "must be ≥ 0"}])
    auth = out.get("auth")
    if auth is not None and not (isinstance(auth, dict) and set(auth) <= {"username", "password"}):
        raise BadRequest("auth must be {username, password} or null")


def _body_fields(body: dict[str, Any] | None) -> dict[str, Any]:
    aliases = {"maxAccounts": "max_accounts", "healthCheckUrl": "health_check_url"}
    return {aliases.get(k, k): v for k, v in (body or {}).items()}


def _proxies(doc: TOMLDocument) -> Any:
    table = _pool_table(doc)
    if "proxies" not in table:
        table["proxies"] = tomlkit.aot()
    return table["proxies"]


def _find(proxies: Any, proxy_id: str) -> Any:
    for entry in proxies:
        if entry.get("id") == proxy_id:
            return entry
    raise NotFound(f"no proxy {proxy_id!r} in the pool (see `gephyr pool list`)")


def _set_fields(entry: Any, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        if key == "auth":
            if value is None:
                entry.pop("auth", None)
                continue
            auth = tomlkit.inline_table()
            auth.update({k: str(v) for k, v in value.items() if v is not None})
            entry["auth"] = auth
        else:
            entry[key] = value


def _one(ctx: AdminContext, proxy_id: str) -> dict[str, Any]:
    bindings = pool_table.load(ctx.store)
    raw = next(p for p in _section(ctx).get("proxies") or [] if p.get("id") == proxy_id)
    return _view(raw, bindings, _router(ctx))


@operation(
    "pool.proxy_add",
    "POST",
    "/api/proxy/pool/proxies",
    status=201,
    audit=Audit("pool.proxy_add", snap.proxies),
)
def add_proxy(ctx: AdminContext, body: dict[str, Any] | None = None) -> Reply:
    """Add a proxy to the pool (`url` required; id generated when omitted)."""
    fields = _clean(_body_fields(body), partial=False)
    proxy_id = str(fields.setdefault("id", f"px-{secrets.token_hex(4)}"))

    def mutate(doc: TOMLDocument) -> None:
        proxies = _proxies(doc)
        if any(p.get("id") == proxy_id for p in proxies):
            raise Conflict(f"a proxy with id {proxy_id!r} already exists")
        entry = tomlkit.table()
        entry.update({"id": proxy_id, "enabled": True, "priority": 0})
        _set_fields(entry, fields)
        proxies.append(entry)

    ctx.config.update(mutate)
    ctx.config_changed()
    return Reply(_one(ctx, proxy_id), 201)


@operation(
    "pool.proxy_update",
    "PATCH",
    "/api/proxy/pool/proxies/{id}",
    audit=Audit("pool.proxy_update", snap.proxies),
)
def update_proxy(ctx: AdminContext, id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Change fields of a proxy; `auth: null` removes its credentials."""
    fields = _clean(_body_fields(body), partial=True)
    if not fields:
        raise BadRequest("give at least one proxy field: " + ", ".join(_FIELDS))
    if fields.get("id", id) != id:
        raise BadRequest("a proxy's id cannot change: remove it and add a new one")

    def mutate(doc: TOMLDocument) -> None:
        _set_fields(_find(_proxies(doc), id), fields)

    ctx.config.update(mutate)
    ctx.config_changed()
    return _one(ctx, id)


@operation(
    "pool.proxy_remove",
    "DELETE",
    "/api/proxy/pool/proxies/{id}",
    status=204,
    audit=Audit("pool.proxy_remove", snap.proxies),
)
def remove_proxy(ctx: AdminContext, id: str) -> Reply:
    """Remove a proxy and its bindings."""

    def mutate(doc: TOMLDocument) -> None:
        proxies = _proxies(doc)
        proxies.remove(_find(proxies, id))

    ctx.config.update(mutate)
    pool_table.remove_proxy(ctx.store, id)
    ctx.config_changed()
    ctx.records_changed()
    return Reply(None, 204)


@operation("pool.bindings", "GET", "/api/proxy/pool/bindings")
def bindings(ctx: AdminContext) -> dict[str, str]:
    """Every account → proxy binding."""
    return pool_table.load(ctx.store)


@operation("pool.binding", "GET", "/api/proxy/pool/binding/{account_id}")
def binding(ctx: AdminContext, account_id: str) -> str | None:
    """The proxy an account is bound to, or null."""
    return pool_table.load(ctx.store).get(account_id)


@operation("pool.bind", "POST", "/api/proxy/pool/bind", audit=Audit("pool.bind", snap.proxy_binding))
def bind(ctx: AdminContext, account_id: str, proxy_id: str) -> dict[str, Any]:
    """Bind an account to a proxy (replaces its previous binding); 409 when the proxy is full."""
    if accounts_table.get_account(ctx.store, account_id) is None:
        raise NotFound(f"no account {account_id!r} (see `gephyr accounts list`)")
    proxy = next((p for p in _section(ctx).get("proxies") or [] if p.get("id") == proxy_id), None)
    if proxy is None:
        raise NotFound(f"no proxy {proxy_id!r} in the pool (see `gephyr pool list`)")
    pool_table.bind(ctx.store, account_id, proxy_id, int(proxy.get("max_accounts") or 0))
    ctx.records_changed()
    return {"ok": True}


@operation("pool.unbind", "POST", "/api/proxy/pool/unbind", audit=Audit("pool.unbind", snap.proxy_binding))
def unbind(ctx: AdminContext, account_id: str) -> dict[str, Any]:
    """Remove an account's binding (succeeds when there was none)."""
    unbound = pool_table.unbind(ctx.store, account_id)
    ctx.records_changed()
    return {"ok": True, "unbound": unbound}


@operation("pool.check", "POST", "/api/proxy/health-check/trigger")
def check(ctx: AdminContext) -> dict[str, Any]:
    """Run one health-check round now (even with the pool disabled) and wait for it."""
    import asyncio

    from gephyr_core.pool.health import check_all
    from gephyr_core.pool.router import EgressRouter
    from gephyr_core.relay.http import ClientPool

    router = _router(ctx)
    clients = getattr(ctx.runtime, "pool_clients", None)
    loop = getattr(router, "loop", None)
    if router is not None and clients is not None and loop is not None:
        # the shared clients belong to the server's event loop: run the round there and wait
        asyncio.run_coroutine_threadsafe(check_all(router, clients), loop).result(timeout=120)
    else:
        settings = ctx.settings()
        router, local = EgressRouter(lambda: settings), ClientPool()

        async def once() -> None:
            try:
                await check_all(router, local)
            finally:
                await local.aclose()

        asyncio.run(once())
    views = _views(ctx, router)
    checked = sum(1 for v in views if v["enabled"])
    return {"success": True, "message": f"checked {checked} proxy(ies)", "proxies": views}
