"""`gephyr stats`: token statistics from the hourly rollup, as bar charts and tables."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gephyr_cli.state import get_state

app = typer.Typer(
    help="Token statistics: totals per hour, day, week, account and model.", no_args_is_help=True
)

Hours = Annotated[int, typer.Option(help="Window in hours (1-8760).")]


def _bars(st: Any, rows: list[dict[str, Any]], label: str, title: str) -> None:
    """One bar per row, scaled to the largest total."""
    from rich.table import Table

    if not rows:
        st.out.console.print("No token usage recorded in this window.")
        return
    top = max(int(r["total_tokens"] or 0) for r in rows) or 1
    table = Table(title=title, box=None)
    for col in (label, "", "tokens", "in", "out", "requests"):
        table.add_column(col, justify="right" if col in ("tokens", "in", "out", "requests") else "left")
    for r in rows:
        width = round(30 * int(r["total_tokens"] or 0) / top)
        table.add_row(
            str(r[label] or "-"),
            "[cyan]" + "█" * width + "[/]",
            str(r["total_tokens"]),
            str(r["total_input_tokens"]),
            str(r["total_output_tokens"]),
            str(r["request_count"]),
        )
    st.out.console.print(table)


def _period_command(ctx: typer.Context, op: str, title: str, **kwargs: int) -> None:
    st = get_state(ctx)
    st.out.show(st.call(op, **kwargs), lambda d: _bars(st, d, "period", title))


@app.command()
def hourly(ctx: typer.Context, hours: Hours = 24) -> None:
    """Token totals per hour.

    Example: gephyr stats hourly --hours 48
    """
    _period_command(ctx, "stats.hourly", f"tokens per hour, last {hours} h", hours=hours)


@app.command()
def daily(ctx: typer.Context, days: Annotated[int, typer.Option(help="Window in days (1-366).")] = 7) -> None:
    """Token totals per day (UTC).

    Example: gephyr stats daily --days 30
    """
    _period_command(ctx, "stats.daily", f"tokens per day, last {days} days", days=days)


@app.command()
def weekly(
    ctx: typer.Context, weeks: Annotated[int, typer.Option(help="Window in weeks (1-104).")] = 4
) -> None:
    """Token totals per ISO week.

    Example: gephyr stats weekly --weeks 12
    """
    _period_command(ctx, "stats.weekly", f"tokens per week, last {weeks} weeks", weeks=weeks)


@app.command("by-account")
def by_account(ctx: typer.Context, hours: Hours = 168) -> None:
    """Token totals per account, biggest first.

    Example: gephyr stats by-account --hours 24
    """
    st = get_state(ctx)
    st.out.show(
        st.call("stats.by_account", hours=hours), lambda d: _bars(st, d, "account_email", "by account")
    )


@app.command("by-model")
def by_model(ctx: typer.Context, hours: Hours = 168) -> None:
    """Token totals per upstream model, biggest first.

    Example: gephyr stats by-model
    """
    st = get_state(ctx)
    st.out.show(st.call("stats.by_model", hours=hours), lambda d: _bars(st, d, "model", "by model"))


@app.command()
def summary(ctx: typer.Context, hours: Hours = 168) -> None:
    """Token totals, requests and distinct accounts over a window.

    Example: gephyr stats summary --hours 24
    """
    st = get_state(ctx)
    st.out.show(st.call("stats.summary", hours=hours), lambda d: st.out.pairs(d.items()))


def _trend(st: Any, rows: list[dict[str, Any]], field: str) -> None:
    if not rows:
        st.out.console.print("No token usage recorded in this window.")
        return
    flat = [{"period": r["period"], "name": n, "total": t} for r in rows for n, t in r[field].items()]
    top = max(int(f["total"] or 0) for f in flat) or 1
    st.out.table(
        ["period", "name", "", "tokens"],
        [(f["period"], f["name"], "█" * round(30 * int(f["total"] or 0) / top), f["total"]) for f in flat],
    )


@app.command("model-trend")
def model_trend(
    ctx: typer.Context, daily: Annotated[bool, typer.Option("--daily", help="Per day over 7 days.")] = False
) -> None:
    """Tokens per model per hour over 24 hours (or per day over 7 days).

    Example: gephyr stats model-trend --daily
    """
    st = get_state(ctx)
    data = st.call("stats.model_trend_daily" if daily else "stats.model_trend")
    st.out.show(data, lambda d: _trend(st, d, "model_data"))


@app.command("account-trend")
def account_trend(
    ctx: typer.Context, daily: Annotated[bool, typer.Option("--daily", help="Per day over 7 days.")] = False
) -> None:
    """Tokens per account per hour over 24 hours (or per day over 7 days).

    Example: gephyr stats account-trend
    """
    st = get_state(ctx)
    data = st.call("stats.account_trend_daily" if daily else "stats.account_trend")
    st.out.show(data, lambda d: _trend(st, d, "account_data"))


@app.command()
def requests(ctx: typer.Context) -> None:
    """Request totals over the stored logs (success = status 200-399).

    Example: gephyr stats requests
    """
    st = get_state(ctx)
    st.out.show(st.call("logs.stats"), lambda d: st.out.pairs(d.items()))


@app.command()
def clear(ctx: typer.Context) -> None:
    """Delete every token statistic.

    Example: gephyr stats clear
    """
    st = get_state(ctx)
    st.out.show(st.call("stats.clear"), lambda d: st.out.console.print("token statistics cleared"))
