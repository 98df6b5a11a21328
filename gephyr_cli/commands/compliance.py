"""`gephyr compliance`: request caps, concurrency caps and risk cooldowns."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gephyr_cli.output import ExitCode, fail
from gephyr_cli.state import get_state

app = typer.Typer(
    help="The compliance guard: request and concurrency caps, risk cooldowns.", no_args_is_help=True
)


@app.command()
def show(ctx: typer.Context) -> None:
    """Show the guard's settings and live counters (needs a server).

    Example: gephyr compliance show
    """
    st = get_state(ctx)
    st.out.show(st.call("compliance.show"), lambda d: st.out.pairs(d.items()))


@app.command("set")
def set_(
    ctx: typer.Context,
    enable: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Turn the guard on or off.")
    ] = None,
    global_rpm: Annotated[int | None, typer.Option(help="Requests per minute, all accounts.")] = None,
    account_rpm: Annotated[int | None, typer.Option(help="Requests per minute per account.")] = None,
    concurrency: Annotated[int | None, typer.Option(help="In-flight requests per account.")] = None,
    cooldown: Annotated[int | None, typer.Option(help="Risk cooldown in seconds.")] = None,
    cooldown_on_429: Annotated[
        bool | None,
        typer.Option("--cooldown-on-429/--no-cooldown-on-429", help="Also cool down after a 429."),
    ] = None,
    max_retries: Annotated[int | None, typer.Option(help="Attempt cap per request while on.")] = None,
) -> None:
    """Change the guard's settings (omitted ones keep their values).

    Example: gephyr compliance set --enable --account-rpm 30 --concurrency 4
    """
    st = get_state(ctx)
    fields: dict[str, Any] = {
        "enabled": enable,
        "max_global_requests_per_minute": global_rpm,
        "max_account_requests_per_minute": account_rpm,
        "max_account_concurrency": concurrency,
        "risk_cooldown_seconds": cooldown,
        "cooldown_on_http_429": cooldown_on_429,
        "max_retry_attempts": max_retries,
    }
    body = {k: v for k, v in fields.items() if v is not None}
    if not body:
        raise fail("give at least one setting to change", ExitCode.USAGE)
    data = st.call("compliance.set", body=body)
    st.out.show(data, lambda d: st.out.pairs(d["compliance"].items()))
