"""`gephyr security`: the IP blacklist and whitelist, filter settings, access log and statistics."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gephyr_cli.state import get_state

app = typer.Typer(help="IP filter, access log and security statistics.", no_args_is_help=True)
blacklist = typer.Typer(help="Blocked addresses and CIDR blocks.", no_args_is_help=True)
whitelist = typer.Typer(help="Allowed addresses and CIDR blocks.", no_args_is_help=True)
config = typer.Typer(help="IP filter settings ([security_monitor]).", no_args_is_help=True)
logs = typer.Typer(help="The access log of the public routes.", no_args_is_help=True)
app.add_typer(blacklist, name="blacklist")
app.add_typer(whitelist, name="whitelist")
app.add_typer(config, name="config")
app.add_typer(logs, name="logs")

PatternArg = Annotated[str, typer.Argument(help="IPv4/IPv6 address or CIDR block.")]
IpArg = Annotated[str, typer.Argument(help="IP address to test.")]
_BLACK_COLS = ["ip_pattern", "reason", "expires_at", "created_by", "hit_count", "last_hit_at"]
_WHITE_COLS = ["ip_pattern", "description", "created_at"]


def _entries(st: Any, op: str, cols: list[str]) -> None:
    st.out.show(st.call(op), lambda d: st.out.table(cols, [[e[c] for c in cols] for e in d]))


def _say(st: Any, data: Any, text: str) -> None:
    st.out.show(data, lambda d: st.out.console.print(text.format(**d), markup=False))


def _expiry(expires_at: str | None, ttl: int | None) -> int | None:
    """Unix seconds from `--expires-at` (Unix seconds or ISO 8601) or `--ttl` seconds."""
    import time
    from datetime import datetime

    from gephyr_core.errors import BadRequest

    if expires_at and ttl is not None:
        raise BadRequest("give --expires-at or --ttl, not both")
    if ttl is not None:
        return int(time.time()) + ttl
    if not expires_at:
        return None
    if expires_at.isdigit():
        return int(expires_at)
    try:
        return int(datetime.fromisoformat(expires_at).timestamp())
    except ValueError:
        raise BadRequest(f"--expires-at must be Unix seconds or ISO 8601, not {expires_at!r}") from None


@blacklist.command("list")
def black_list(ctx: typer.Context) -> None:
    """List blacklist entries.

    Example: gephyr security blacklist list
    """
    _entries(get_state(ctx), "security.blacklist.list", _BLACK_COLS)


@blacklist.command("add")
def black_add(
    ctx: typer.Context,
    pattern: PatternArg,
    reason: Annotated[str | None, typer.Option(help="Shown to the blocked client.")] = None,
    expires_at: Annotated[str | None, typer.Option("--expires-at", help="Unix seconds or ISO 8601.")] = None,
    ttl: Annotated[int | None, typer.Option("--ttl", help="Seconds from now.", min=1)] = None,
) -> None:
    """Block an address or CIDR block, for good or until a time.

    Example: gephyr security blacklist add 203.0.113.0/24 --reason abuse --ttl 3600
    """
    st = get_state(ctx)
    data = st.call(
        "security.blacklist.add", ip_pattern=pattern, reason=reason, expires_at=_expiry(expires_at, ttl)
    )
    _say(st, data, "blocked {ip_pattern}")


@blacklist.command("remove")
def black_remove(ctx: typer.Context, pattern: PatternArg) -> None:
    """Remove a blacklist entry.

    Example: gephyr security blacklist remove 203.0.113.0/24
    """
    st = get_state(ctx)
    _say(st, st.call("security.blacklist.remove", ip_pattern=pattern), "removed")


@blacklist.command("clear")
def black_clear(ctx: typer.Context) -> None:
    """Remove every blacklist entry.

    Example: gephyr security blacklist clear
    """
    st = get_state(ctx)
    _say(st, st.call("security.blacklist.clear"), "deleted {deleted} entries")


@blacklist.command("check")
def black_check(ctx: typer.Context, ip: IpArg) -> None:
    """Whether an IP is blocked now (by which entry).

    Example: gephyr security blacklist check 203.0.113.7
    """
    st = get_state(ctx)
    data = st.call("security.blacklist.check", ip=ip)
    st.out.show(data, lambda d: st.out.pairs([("blocked", d["result"]), ("entry", d["entry"])]))


@whitelist.command("list")
def white_list(ctx: typer.Context) -> None:
    """List whitelist entries.

    Example: gephyr security whitelist list
    """
    _entries(get_state(ctx), "security.whitelist.list", _WHITE_COLS)


@whitelist.command("add")
def white_add(
    ctx: typer.Context,
    pattern: PatternArg,
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
) -> None:
    """Allow an address or CIDR block.

    Example: gephyr security whitelist add 10.0.0.0/8 --description office
    """
    st = get_state(ctx)
    data = st.call("security.whitelist.add", ip_pattern=pattern, description=description)
    _say(st, data, "allowed {ip_pattern}")


@whitelist.command("remove")
def white_remove(ctx: typer.Context, pattern: PatternArg) -> None:
    """Remove a whitelist entry.

    Example: gephyr security whitelist remove 10.0.0.0/8
    """
    st = get_state(ctx)
    _say(st, st.call("security.whitelist.remove", ip_pattern=pattern), "removed")


@whitelist.command("clear")
def white_clear(ctx: typer.Context) -> None:
    """Remove every whitelist entry.

    Example: gephyr security whitelist clear
    """
    st = get_state(ctx)
    _say(st, st.call("security.whitelist.clear"), "deleted {deleted} entries")


@whitelist.command("check")
def white_check(ctx: typer.Context, ip: IpArg) -> None:
    """Whether an IP is on the whitelist (by which entry).

    Example: gephyr security whitelist check 10.1.2.3
    """
    st = get_state(ctx)
    data = st.call("security.whitelist.check", ip=ip)
    st.out.show(data, lambda d: st.out.pairs([("listed", d["result"]), ("entry", d["entry"])]))


def _config_rows(d: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(f"{section}.{k}", v) for section, part in d.items() for k, v in part.items()]


@config.command("show")
def config_show(ctx: typer.Context) -> None:
    """Show the IP filter settings.

    Example: gephyr security config show
    """
    st = get_state(ctx)
    st.out.show(st.call("security.config.get"), lambda d: st.out.pairs(_config_rows(d)))


@config.command("set")
def config_set(
    ctx: typer.Context,
    black: Annotated[
        bool | None, typer.Option("--blacklist/--no-blacklist", help="Blacklist on/off.")
    ] = None,
    white: Annotated[bool | None, typer.Option("--whitelist/--no-whitelist", help="Allow-list mode.")] = None,
    priority: Annotated[
        bool | None,
        typer.Option("--whitelist-priority/--no-whitelist-priority", help="Listed IPs skip the blacklist."),
    ] = None,
    block_message: Annotated[
        str | None, typer.Option("--block-message", help="First sentence of refusals.")
    ] = None,
) -> None:
    """Change the IP filter settings (hot-applied).

    Example: gephyr security config set --blacklist --block-message "Ask IT for access."
    """
    st = get_state(ctx)
    patch: dict[str, dict[str, Any]] = {"blacklist": {}, "whitelist": {}}
    for section, key, value in (
        ("blacklist", "enabled", black),
        ("blacklist", "block_message", block_message),
        ("whitelist", "enabled", white),
        ("whitelist", "whitelist_priority", priority),
    ):
        if value is not None:
            patch[section][key] = value
    data = st.call("security.config.set", body={"config": patch})
    st.out.show(data, lambda d: st.out.pairs(_config_rows(d["config"])))


@logs.command("list")
def logs_list(
    ctx: typer.Context,
    page: Annotated[int, typer.Option(min=1, help="Page number.")] = 1,
    page_size: Annotated[int, typer.Option("--page-size", min=1, max=1000, help="Rows per page.")] = 50,
    search: Annotated[str | None, typer.Option(help="IP substring.")] = None,
    blocked_only: Annotated[bool, typer.Option("--blocked-only", help="Only blocked requests.")] = False,
) -> None:
    """List access-log rows, newest first.

    Example: gephyr security logs list --blocked-only
    """
    st = get_state(ctx)
    data = st.call(
        "security.logs.list", page=page, page_size=page_size, search=search, blocked_only=blocked_only
    )
    cols = [
        "timestamp",
        "client_ip",
        "method",
        "path",
        "status",
        "duration",
        "blocked",
        "block_reason",
        "username",
    ]
    st.out.show(
        data, lambda d: st.out.table(cols, [[r[c] for c in cols] for r in d["logs"]], f"{d['total']} rows")
    )


@logs.command("clear")
def logs_clear(ctx: typer.Context) -> None:
    """Delete the access log.

    Example: gephyr security logs clear
    """
    st = get_state(ctx)
    _say(st, st.call("security.logs.clear"), "deleted {deleted} rows")


@app.command()
def stats(ctx: typer.Context) -> None:
    """Requests, unique IPs, blocked requests and top IPs of the last 24 hours.

    Example: gephyr security stats
    """
    st = get_state(ctx)
    cols = ["client_ip", "request_count", "last_seen", "is_blocked"]

    def human(d: dict[str, Any]) -> None:
        st.out.pairs((k, v) for k, v in d.items() if k != "top_ips")
        st.out.table(cols, [[r[c] for c in cols] for r in d["top_ips"]], "top IPs")

    st.out.show(st.call("security.stats"), human)


@app.command("token-stats")
def token_stats(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Rows at most.")] = 100,
    hours: Annotated[int, typer.Option(min=1, help="Look back this many hours.")] = 720,
) -> None:
    """Token usage per client IP of user-token requests.

    Example: gephyr security token-stats --hours 24
    """
    st = get_state(ctx)
    cols = ["client_ip", "username", "request_count", "input_tokens", "output_tokens", "total_tokens"]
    data = st.call("security.token_stats", limit=limit, hours=hours)
    st.out.show(data, lambda d: st.out.table(cols, [[r[c] for c in cols] for r in d]))
