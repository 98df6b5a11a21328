"""`gephyr metrics`: the running relay's live counters (Prometheus scrapes `/metrics`)."""

from __future__ import annotations

from typing import Any

import typer

from gephyr_cli.state import get_state

app = typer.Typer(help="Live counters of the running relay.", no_args_is_help=True)

SECTIONS = (
    ("runtime", "Runtime"),
    ("monitor", "Requests and log queue"),
    ("sticky", "Sticky sessions"),
    ("rate_limits", "Rate limits"),
    ("proxy_pool", "Egress proxy pool"),
    ("compliance", "Compliance guard"),
)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ", ".join(f"{k[:8]}={v}" for k, v in value.items()) or "-"
    return "-" if value is None else str(value)


def _render(st: Any, data: dict[str, Any]) -> None:
    from rich.columns import Columns
    from rich.table import Table

    tables = []
    for key, title in SECTIONS:
        table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 1))
        table.add_column(style="bold")
        table.add_column(justify="right", overflow="fold")
        for name, value in data[key].items():
            table.add_row(name.replace("_", " "), _value(value))
        tables.append(table)
    st.out.console.print(f"gephyr {data['version']} · live counters since the server started", markup=False)
    st.out.console.print(Columns(tables, padding=(1, 4)))


@app.command()
def show(ctx: typer.Context) -> None:
    """Show live counters: requests, accounts, sessions, rate limits, pool, guard (needs a server).

    Example: gephyr metrics show --json
    """
    st = get_state(ctx)
    st.out.show(st.call("metrics.show"), lambda d: _render(st, d))
