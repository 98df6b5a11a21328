"""`gephyr logs`: request logs and decision traces."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gephyr_cli.state import get_state

app = typer.Typer(help="Request logs and the decision trace of a request.", no_args_is_help=True)


@app.command()
def explain(
    ctx: typer.Context,
    request_id: Annotated[str, typer.Argument(help="The x-request-id the relay answered with.")],
) -> None:
    """Show how a request was routed: session, candidates, skips and attempts (by request or log id).

    Example: gephyr logs explain 3f1c2a9e-0b7d-4c1e-9a55-2d9e8f7a6b10
    """
    st = get_state(ctx)
    data = st.call("logs.explain", id=request_id)

    def human(d: dict[str, Any]) -> None:
        t = d["trace"]
        st.out.console.print(
            f"session {t['session_id'] or '-'} ({t['session_source']}), model {t['model']}", markup=False
        )
        for skip in t["skipped"]:
            detail = ", ".join(f"{k}={v}" for k, v in skip.items() if k not in ("account_id", "reason"))
            st.out.console.print(
                f"skipped {skip['account_id'][:8]}: {skip['reason']} {detail}".rstrip(), markup=False
            )
        st.out.table(
            ["#", "account", "step", "status", "outcome"],
            [
                (i + 1, a["account_id"][:8], a["step"], a["status"], a["outcome"])
                for i, a in enumerate(t["attempts"])
            ],
        )

    st.out.show(data, human)


_COLUMNS = ["id", "time", "status", "route", "model", "account", "ms", "in", "out"]


def _rows(logs: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    import time

    return [
        (
            r["id"][:8],
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["timestamp"])),
            r["status"],
            r["route"] or r["url"],
            r["mapped_model"] or r["model"],
            r["account_email"] or "",
            r["duration"],
            r["input_tokens"],
            r["output_tokens"],
        )
        for r in logs
    ]


Filter = Annotated[
    str | None, typer.Option("--filter", help="Substring of url, model, status, account, IP, user.")
]
Errors = Annotated[bool, typer.Option("--errors", help="Only failed requests (status < 200 or >= 400).")]


@app.command("list")
def list_(
    ctx: typer.Context,
    filter: Filter = None,
    errors: Errors = False,
    limit: Annotated[int, typer.Option(help="Records per page (1-1000).")] = 50,
    offset: Annotated[int, typer.Option(help="Records to skip.")] = 0,
) -> None:
    """List request logs, newest first.

    Example: gephyr logs list --errors --filter claude --limit 20
    """
    st = get_state(ctx)
    data = st.call("logs.list", filter=filter, errors_only=errors, limit=limit, offset=offset)
    st.out.show(data, lambda d: st.out.table(_COLUMNS, _rows(d)))


@app.command()
def count(ctx: typer.Context, filter: Filter = None, errors: Errors = False) -> None:
    """Count the request logs that match.

    Example: gephyr logs count --errors
    """
    st = get_state(ctx)
    data = st.call("logs.count", filter=filter, errors_only=errors)
    st.out.show(data, lambda d: st.out.console.print(str(d)))


@app.command()
def show(ctx: typer.Context, log_id: Annotated[str, typer.Argument(help="The log id.")]) -> None:
    """Show one request log in full.

    Example: gephyr logs show 0b7d3f1c-2a9e-4c1e-9a55-2d9e8f7a6b10
    """
    st = get_state(ctx)
    data = st.call("logs.show", id=log_id)
    st.out.show(data, lambda d: st.out.pairs(d.items()))


@app.command()
def clear(ctx: typer.Context) -> None:
    """Delete every request log.

    Example: gephyr logs clear
    """
    st = get_state(ctx)
    data = st.call("logs.clear")
    st.out.show(data, lambda d: st.out.console.print(f"deleted {d['deleted']} request logs"))


@app.command()
def toggle(
    ctx: typer.Context,
    on: Annotated[bool, typer.Option("--on/--off", help="Switch request logging on or off.")],
) -> None:
    """Switch request logging on or off (applied at once).

    Example: gephyr logs toggle --off
    """
    st = get_state(ctx)
    data = st.call("monitor.toggle", enabled=on)
    st.out.show(data, lambda d: st.out.console.print(f"request logging {'on' if d['enabled'] else 'off'}"))


@app.command()
def tail(
    ctx: typer.Context,
    lines: Annotated[int, typer.Option("-n", "--lines", help="How many of the latest to print.")] = 10,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new records.")] = False,
    filter: Filter = None,
    errors: Errors = False,
    stop_after: Annotated[float, typer.Option(hidden=True, help="Stop following after N seconds.")] = 0,
) -> None:
    """Print the latest request logs; with -f, follow new ones (polled every second).

    Example: gephyr logs tail -f --errors
    """
    import json
    import time

    st = get_state(ctx)
    query = {"filter": filter, "errors_only": errors}
    latest = list(reversed(st.call("logs.list", limit=lines, **query)))

    def emit(batch: list[dict[str, Any]]) -> None:
        if st.out.as_json:
            for row in batch:
                print(json.dumps(row, ensure_ascii=False), flush=True)
        elif batch:
            st.out.table(_COLUMNS, _rows(batch))

    emit(latest)
    if not follow:
        return
    last = latest[-1]["id"] if latest else (st.call("logs.list", limit=1) or [{"id": ""}])[0]["id"]
    ends = time.monotonic() + stop_after if stop_after > 0 else None
    while ends is None or time.monotonic() < ends:
        time.sleep(1)
        batch = st.call("logs.list", after_id=last, limit=1000, **query)
        if batch:
            last = batch[-1]["id"]
            emit(batch)
