"""`gephyr pool`: the egress proxy pool (proxies, strategy, bindings, health checks)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gephyr_cli.state import get_state

GROUP = "pool"
app = typer.Typer(
    help="Egress proxy pool: proxies, strategy, account bindings, health.", no_args_is_help=True
)

_Id = Annotated[str, typer.Argument(help="Proxy id.")]
_Account = Annotated[str, typer.Argument(help="Account id.")]


def _proxies(st: Any, rows: list[dict[str, Any]]) -> None:
    if not rows:
        st.out.console.print("No proxies: add one with `gephyr pool add URL`.")
        return
    health = {True: "up", False: "down", None: "unchecked"}
    st.out.table(
        ["id", "url", "enabled", "priority", "health", "latency ms", "in flight", "bound"],
        [
            (
                p["id"],
                p["url"],
                p["enabled"],
                p["priority"],
                health[p["is_healthy"]],
                p["latency_ms"],
                p["in_flight"],
                len(p["bound_accounts"]),
            )
            for p in rows
        ],
    )


def _pairs(st: Any, data: dict[str, Any]) -> None:
    st.out.pairs([(k, v) for k, v in data.items() if k not in ("proxies", "proxy_pool")])
    if "proxy_pool" in data:
        st.out.pairs(list(data["proxy_pool"].items()))


@app.command()
def show(ctx: typer.Context) -> None:
    """Show pool settings, proxies and bindings.

    Example: gephyr pool show
    """
    st = get_state(ctx)
    st.out.show(st.call("pool.config"), lambda d: (_pairs(st, d), _proxies(st, d["proxies"])))


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List proxies with health and counters.

    Example: gephyr pool list
    """
    st = get_state(ctx)
    st.out.show(st.call("pool.proxies"), lambda d: _proxies(st, d))


def _fields(**given: Any) -> dict[str, Any]:
    body = {k: v for k, v in given.items() if v is not None and k not in ("username", "password", "tag")}
    if given.get("tag"):
        body["tags"] = list(given["tag"])
    if given.get("username") is not None or given.get("password") is not None:
        body["auth"] = {"username": given.get("username") or "", "password": given.get("password") or ""}
    return body


@app.command()
def add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="http://, https://, socks5:// or socks5h:// proxy URL.")],
    id: Annotated[str | None, typer.Option("--id", help="Slug id (default px-<8 hex>).")] = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    priority: Annotated[int | None, typer.Option(help="Lower = preferred.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Tag (repeatable).")] = None,
    max_accounts: Annotated[int | None, typer.Option(help="Bindings allowed; 0 = unlimited.")] = None,
    check_url: Annotated[str | None, typer.Option(help="Per-proxy health URL (any 2xx).")] = None,
    username: Annotated[str | None, typer.Option(help="Proxy user name.")] = None,
    password: Annotated[str | None, typer.Option(help="Proxy password (stored encrypted).")] = None,
) -> None:
    """Add a proxy to the pool.

    Example: gephyr pool add socks5://10.0.0.5:1080 --id eu-1 --tag eu
    """
    st = get_state(ctx)
    body = _fields(
        url=url,
        id=id,
        name=name,
        priority=priority,
        tag=tag,
        max_accounts=max_accounts,
        health_check_url=check_url,
        username=username,
        password=password,
    )
    st.out.show(st.call("pool.proxy_add", body=body), lambda d: _proxies(st, [d]))


@app.command()
def update(
    ctx: typer.Context,
    id: _Id,
    url: Annotated[str | None, typer.Option(help="New proxy URL.")] = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    enable: Annotated[bool | None, typer.Option("--enable/--disable", help="Use the proxy or not.")] = None,
    priority: Annotated[int | None, typer.Option(help="Lower = preferred.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Tags (replace; repeatable).")] = None,
    max_accounts: Annotated[int | None, typer.Option(help="Bindings allowed; 0 = unlimited.")] = None,
    check_url: Annotated[str | None, typer.Option(help="Per-proxy health URL (any 2xx).")] = None,
    username: Annotated[str | None, typer.Option(help="Proxy user name.")] = None,
    password: Annotated[str | None, typer.Option(help="Proxy password (stored encrypted).")] = None,
    no_auth: Annotated[bool, typer.Option("--no-auth", help="Remove the credentials.")] = False,
) -> None:
    """Change fields of a proxy.

    Example: gephyr pool update eu-1 --priority 5 --disable
    """
    st = get_state(ctx)
    body = _fields(
        url=url,
        name=name,
        enabled=enable,
        priority=priority,
        tag=tag,
        max_accounts=max_accounts,
        health_check_url=check_url,
        username=username,
        password=password,
    )
    if no_auth:
        body["auth"] = None
    st.out.show(st.call("pool.proxy_update", id=id, body=body), lambda d: _proxies(st, [d]))


@app.command()
def remove(ctx: typer.Context, id: _Id) -> None:
    """Remove a proxy and its bindings.

    Example: gephyr pool remove eu-1
    """
    st = get_state(ctx)
    st.call("pool.proxy_remove", id=id)
    st.out.show({"ok": True, "removed": id}, lambda d: st.out.console.print(f"removed proxy {id}"))


@app.command()
def bind(
    ctx: typer.Context, account: _Account, proxy: Annotated[str, typer.Argument(help="Proxy id.")]
) -> None:
    """Bind an account to a proxy.

    Example: gephyr pool bind 1f0c… eu-1
    """
    st = get_state(ctx)
    data = st.call("pool.bind", account_id=account, proxy_id=proxy)
    st.out.show(data, lambda d: st.out.console.print(f"bound {account} to {proxy}"))


@app.command()
def unbind(ctx: typer.Context, account: _Account) -> None:
    """Remove an account's proxy binding.

    Example: gephyr pool unbind 1f0c…
    """
    st = get_state(ctx)
    data = st.call("pool.unbind", account_id=account)
    st.out.show(data, lambda d: st.out.console.print("unbound" if d["unbound"] else "was not bound"))


@app.command()
def bindings(ctx: typer.Context) -> None:
    """List account → proxy bindings.

    Example: gephyr pool bindings
    """
    st = get_state(ctx)
    st.out.show(st.call("pool.bindings"), lambda d: st.out.table(["account", "proxy"], sorted(d.items())))


@app.command()
def binding(ctx: typer.Context, account: _Account) -> None:
    """Show the proxy an account is bound to.

    Example: gephyr pool binding 1f0c…
    """
    st = get_state(ctx)
    st.out.show(st.call("pool.binding", account_id=account), lambda d: st.out.console.print(d or "not bound"))


@app.command()
def strategy(
    ctx: typer.Context,
    name: Annotated[
        str | None,
        typer.Argument(
            help="round_robin, random, priority, least_connections, weighted_round_robin; omit to show."
        ),
    ] = None,
) -> None:
    """Show or set the selection strategy.

    Example: gephyr pool strategy least_connections
    """
    st = get_state(ctx)
    data = st.call("pool.strategy") if name is None else st.call("pool.update_strategy", strategy=name)
    st.out.show(data, lambda d: _pairs(st, d))


@app.command()
def runtime(ctx: typer.Context) -> None:
    """Show the pool snapshot.

    Example: gephyr pool runtime
    """
    st = get_state(ctx)
    st.out.show(st.call("pool.runtime"), lambda d: _pairs(st, d))


@app.command("set")
def set_(
    ctx: typer.Context,
    enable: Annotated[bool | None, typer.Option("--enable/--disable", help="Use the pool.")] = None,
    failover: Annotated[bool | None, typer.Option("--failover/--no-failover", help="Skip unhealthy.")] = None,
    shared_fallback: Annotated[
        bool | None, typer.Option("--shared-fallback/--no-shared-fallback", help="Share bound proxies.")
    ] = None,
    require_proxy: Annotated[
        bool | None, typer.Option("--require-proxy/--no-require-proxy", help="Never go direct.")
    ] = None,
    interval: Annotated[int | None, typer.Option(help="Health check interval, seconds.")] = None,
    check_url: Annotated[str | None, typer.Option(help="Pool health URL (must answer 204).")] = None,
) -> None:
    """Change pool switches.

    Example: gephyr pool set --enable --require-proxy
    """
    st = get_state(ctx)
    data = st.call(
        "pool.update_runtime",
        enabled=enable,
        auto_failover=failover,
        allow_shared_proxy_fallback=shared_fallback,
        require_proxy_for_account_requests=require_proxy,
        health_check_interval=interval,
        health_check_url=check_url,
    )
    st.out.show(data, lambda d: _pairs(st, d))


@app.command()
def check(ctx: typer.Context) -> None:
    """Run one health-check round now and show the results.

    Example: gephyr pool check
    """
    st = get_state(ctx)
    st.out.show(st.call("pool.check"), lambda d: _proxies(st, d["proxies"]))
