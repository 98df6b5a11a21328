"""`gephyr debug`: the running server's debug console (a ring of its log records)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from gephyr_cli.output import Output
from gephyr_cli.state import get_state

app = typer.Typer(
    help="Capture and read the running server's log records (needs a server).", no_args_is_help=True
)


@app.command()
def enable(ctx: typer.Context) -> None:
    """Start capturing the server's log records.

    Example: gephyr debug enable
    """
    st = get_state(ctx)
    st.out.show(st.call("debug.enable"), lambda d: st.out.console.print("debug console enabled"))


@app.command()
def disable(ctx: typer.Context) -> None:
    """Stop capturing (records already captured are kept).

    Example: gephyr debug disable
    """
    st = get_state(ctx)
    st.out.show(st.call("debug.disable"), lambda d: st.out.console.print("debug console disabled"))


@app.command()
def status(ctx: typer.Context) -> None:
    """Show whether the debug console is capturing.

    Example: gephyr debug status
    """
    st = get_state(ctx)
    data = st.call("debug.enabled")
    st.out.show(data, lambda d: st.out.console.print("enabled" if d else "disabled"))


def _line(out: Output, event: dict[str, Any]) -> None:
    if out.as_json:
        out.console.file.write(json.dumps(event, separators=(",", ":")) + "\n")
        out.console.file.flush()
        return
    fields = " ".join(f"{k}={v}" for k, v in event["fields"].items())
    out.console.print(
        f"{event['id']} {event['level']:<7} {event['target']}: {event['message']} {fields}".rstrip(),
        markup=False,
    )


@app.command()
def logs(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="Most records to show.", min=1, max=5000)] = 200,
    level: Annotated[str | None, typer.Option(help="Only this level (debug, info, warning, error).")] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new records (Ctrl-C stops).")
    ] = False,
) -> None:
    """Show captured records, newest first; --follow prints new ones as they arrive.

    Example: gephyr debug logs --level error --limit 50
    """
    import time

    st = get_state(ctx)
    events = st.call("debug.logs", limit=limit, level=level)
    if not follow:
        st.out.show(events, lambda d: [_line(st.out, e) for e in reversed(d)])
        return
    last = max((e["id"] for e in events), default=0)
    for event in reversed(events):
        _line(st.out, event)
    while True:
        time.sleep(1.0)
        for event in st.call("debug.logs", limit=5000, level=level, after_id=last):
            _line(st.out, event)
            last = event["id"]


@app.command()
def clear(ctx: typer.Context) -> None:
    """Empty the debug console's ring.

    Example: gephyr debug clear
    """
    st = get_state(ctx)
    st.out.show(st.call("debug.clear"), lambda d: st.out.console.print(f"cleared {d['cleared']} record(s)"))
