"""`gephyr rate-limits`: live rate-limit records of a running server."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gephyr_cli.state import get_state

app = typer.Typer(help="Inspect and clear rate-limit records (needs a running server).", no_args_is_help=True)


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List active rate-limit records and failure streaks.

    Example: gephyr rate-limits list --json
    """
    st = get_state(ctx)
    data = st.call("ratelimits.list")

    def human(d: dict[str, Any]) -> None:
        if not d["records"]:
            st.out.console.print("No account is rate-limited.")
            return
        st.out.table(
            ["account", "model", "reason", "remaining s"],
            [
                (r["label"] or r["account_id"][:8], r["model"], r["reason"], r["remaining_seconds"])
                for r in d["records"]
            ],
        )

    st.out.show(data, human)


@app.command()
def clear(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Argument(help="Only this account's records.")] = None,
) -> None:
    """Clear rate-limit records (all, or one account's).

    Example: gephyr rate-limits clear team-a
    """
    from gephyr_cli.commands.accounts import resolve

    st = get_state(ctx)
    if account:
        data = st.call("ratelimits.clear_account", account_id=resolve(st, account)["id"])
    else:
        data = st.call("ratelimits.clear")
    st.out.show(data, lambda d: st.out.console.print(f"cleared {d['cleared']} record(s)"))
