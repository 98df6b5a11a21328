"""`gephyr sticky`: sticky sessions, scheduling mode and the preferred account."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gephyr_cli.output import ExitCode, fail
from gephyr_cli.state import get_state

app = typer.Typer(help="Sticky sessions, scheduling mode and the preferred account.", no_args_is_help=True)


@app.command()
def show(ctx: typer.Context) -> None:
    """Show persistence, scheduling mode, max wait and the preferred account.

    Example: gephyr sticky show
    """
    st = get_state(ctx)
    st.out.show(st.call("sticky.show"), lambda d: st.out.pairs(d.items()))


@app.command("set")
def set_(
    ctx: typer.Context,
    mode: Annotated[str | None, typer.Option(help="Balance, CacheFirst or PerformanceFirst.")] = None,
    max_wait: Annotated[
        int | None, typer.Option(help="Longest wait for a limited bound account (s).")
    ] = None,
    persist: Annotated[
        bool | None, typer.Option("--persist/--no-persist", help="Keep bindings across restarts.")
    ] = None,
) -> None:
    """Change the scheduling mode, max wait or binding persistence.

    Example: gephyr sticky set --mode CacheFirst --max-wait 30
    """
    st = get_state(ctx)
    scheduling: dict[str, Any] = {
        k: v for k, v in (("mode", mode), ("max_wait_seconds", max_wait)) if v is not None
    }
    data = st.call("sticky.set", persist_session_bindings=persist, scheduling=scheduling or None)
    st.out.show(data, lambda d: st.out.pairs(d["sticky"].items()))


@app.command()
def bindings(ctx: typer.Context, limit: Annotated[int, typer.Option(help="Bindings to list.")] = 100) -> None:
    """List live session bindings and recent scheduling decisions (needs a server).

    Example: gephyr sticky bindings --limit 20
    """
    st = get_state(ctx)
    data = st.call("sticky.bindings", limit=limit)

    def human(d: dict[str, Any]) -> None:
        st.out.console.print(f"{d['session_bindings_count']} binding(s), mode {d['scheduling']['mode']}")
        st.out.table(["session|model", "account"], list(d["session_bindings"].items()))

    st.out.show(data, human)


@app.command()
def clear(ctx: typer.Context) -> None:
    """Clear every session binding.

    Example: gephyr sticky clear
    """
    st = get_state(ctx)
    st.out.show(st.call("sticky.clear"), lambda d: st.out.console.print(f"cleared {d['cleared']} binding(s)"))


@app.command()
def prefer(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Argument(help="Account to try first (id, email or label).")] = None,
    clear_: Annotated[bool, typer.Option("--clear", help="Remove the preferred account.")] = False,
) -> None:
    """Show, set or clear the preferred account.

    Example: gephyr sticky prefer team-a
    """
    from gephyr_cli.commands.accounts import resolve

    st = get_state(ctx)
    if account and clear_:
        raise fail("give an account or --clear, not both", ExitCode.USAGE)
    if account is None and not clear_:
        current = st.call("sticky.preferred")
        st.out.show(
            {"preferred_account_id": current},
            lambda d: st.out.console.print(d["preferred_account_id"] or "(none)"),
        )
        return
    account_id = resolve(st, account)["id"] if account else None
    data = st.call("sticky.prefer", account_id=account_id)
    st.out.show(
        data, lambda d: st.out.console.print(f"preferred account: {d['preferred_account_id'] or '(none)'}")
    )
