"""`gephyr audit`: the audit trail of admin operations."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gephyr_cli.state import get_state

app = typer.Typer(help="The audit trail of admin operations.", no_args_is_help=True)


@app.command("list")
def list_(
    ctx: typer.Context,
    action: Annotated[str | None, typer.Option(help="An action, or a prefix ending in '.'.")] = None,
    limit: Annotated[int, typer.Option(help="Events per page (1-1000).")] = 50,
    offset: Annotated[int, typer.Option(help="Events to skip.")] = 0,
) -> None:
    """List audit events, newest first.

    Example: gephyr audit list --action accounts.
    """
    import time

    st = get_state(ctx)
    data = st.call("audit.list", limit=limit, offset=offset, action=action)

    def human(rows: list[dict[str, Any]]) -> None:
        st.out.table(
            ["time", "action", "actor", "target", "client ip"],
            [
                (
                    time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["timestamp"])),
                    r["action"],
                    r["actor"],
                    r["target"],
                    r["client_ip"],
                )
                for r in rows
            ],
        )

    st.out.show(data, human)
