"""`gephyr system`: the data dir and its log files."""

from __future__ import annotations

import typer

from gephyr_cli.state import get_state

app = typer.Typer(help="Data dir location and log file housekeeping.", no_args_is_help=True)


@app.command("data-dir")
def data_dir(ctx: typer.Context) -> None:
    """Print the absolute data dir path (the server's with --remote).

    Example: gephyr system data-dir
    """
    st = get_state(ctx)
    st.out.show(st.call("system.data_dir"), lambda d: st.out.console.print(d, markup=False))


@app.command("clear-logs")
def clear_logs(ctx: typer.Context) -> None:
    """Truncate every file in <data dir>/logs.

    Example: gephyr system clear-logs
    """
    st = get_state(ctx)
    data = st.call("system.clear_logs")
    st.out.show(data, lambda d: st.out.console.print(f"cleared {d['files']} file(s), {d['bytes_freed']} B"))
