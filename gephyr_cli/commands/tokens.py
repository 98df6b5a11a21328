"""`gephyr tokens`: per-person user tokens for the public routes."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gephyr_cli.state import get_state

app = typer.Typer(help="Manage user tokens (per-person keys for the relay).", no_args_is_help=True)

IdArg = Annotated[str, typer.Argument(help="User token id.")]
ExpiresOpt = typer.Option("--expires", help="day | week | month | never.")
_COLUMNS = ["id", "user", "hint", "enabled", "expires_at", "max_ips", "bound", "curfew", "requests"]


def _row(t: dict[str, Any]) -> list[Any]:
    curfew = f"{t['curfew_start']}-{t['curfew_end']}" if t.get("curfew_start") else ""
    return [
        t["id"],
        t["username"],
        t["token_hint"],
        "yes" if t["enabled"] else "no",
        t["expires_at"] or "never",
        t["max_ips"] or "unlimited",
        t["bound_ips"],
        curfew,
        t["total_requests"],
    ]


def _show(st: Any, data: Any) -> None:
    st.out.show(data, lambda d: st.out.pairs((k, v) for k, v in d.items() if k != "token"))


def _curfew(text: str | None) -> tuple[str | None, str | None]:
    if not text:
        return None, None
    start, sep, end = text.partition("-")
    if not sep:
        from gephyr_core.errors import BadRequest

        raise BadRequest(f"--curfew must be HH:MM-HH:MM, not {text!r}")
    return start.strip(), end.strip()


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List user tokens (hints only; a token's value is shown once, at creation).

    Example: gephyr tokens list
    """
    st = get_state(ctx)
    st.out.show(st.call("tokens.list"), lambda d: st.out.table(_COLUMNS, [_row(t) for t in d]))


@app.command()
def create(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Who the token is for (1-64 characters).")],
    expires: Annotated[str, ExpiresOpt] = "never",
    max_ips: Annotated[
        int, typer.Option("--max-ips", help="Distinct client IPs allowed; 0 = unlimited.")
    ] = 0,
    curfew: Annotated[str | None, typer.Option(help="Refused during HH:MM-HH:MM server time.")] = None,
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
) -> None:
    """Create a user token and print its value once.

    Example: gephyr tokens create alice --expires month --max-ips 2 --curfew 01:00-06:00
    """
    st = get_state(ctx)
    start, end = _curfew(curfew)
    data = st.call(
        "tokens.create",
        username=username,
        expires_type=expires,
        max_ips=max_ips,
        curfew_start=start,
        curfew_end=end,
        description=description,
    )

    def human(d: dict[str, Any]) -> None:
        st.out.pairs((k, v) for k, v in d.items() if k != "token")
        st.out.console.print(f"token: {d['token']}", markup=False)
        st.out.hint("store it now: it is not shown again")

    st.out.show(data, human)


@app.command()
def update(
    ctx: typer.Context,
    token_id: IdArg,
    username: Annotated[str | None, typer.Option(help="New user name.")] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    clear_description: Annotated[bool, typer.Option("--clear-description", help="Remove it.")] = False,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable", help="Accept or refuse it.")] = None,
    max_ips: Annotated[int | None, typer.Option("--max-ips", help="Distinct IPs; 0 = unlimited.")] = None,
    curfew: Annotated[str | None, typer.Option(help="HH:MM-HH:MM server time.")] = None,
    no_curfew: Annotated[bool, typer.Option("--no-curfew", help="Remove the curfew.")] = False,
) -> None:
    """Change a token's user, description, enabled flag, IP cap or curfew.

    Example: gephyr tokens update 3f2c... --disable
    """
    st = get_state(ctx)
    body: dict[str, Any] = {
        "username": username,
        "description": description,
        "enabled": enabled,
        "max_ips": max_ips,
    }
    body = {k: v for k, v in body.items() if v is not None}
    if clear_description:
        body["description"] = None
    if curfew or no_curfew:
        body["curfew_start"], body["curfew_end"] = _curfew(curfew) if curfew else (None, None)
    _show(st, st.call("tokens.update", id=token_id, body=body))


@app.command()
def renew(ctx: typer.Context, token_id: IdArg, expires: Annotated[str, ExpiresOpt] = "month") -> None:
    """Give a token a new expiry counted from now, and enable it.

    Example: gephyr tokens renew 3f2c... --expires week
    """
    st = get_state(ctx)
    _show(st, st.call("tokens.renew", id=token_id, expires_type=expires))


@app.command()
def delete(ctx: typer.Context, token_id: IdArg) -> None:
    """Delete a token and its IP bindings (usage rows stay).

    Example: gephyr tokens delete 3f2c...
    """
    st = get_state(ctx)
    st.call("tokens.delete", id=token_id)
    st.out.show(
        {"deleted": token_id}, lambda d: st.out.console.print(f"deleted {d['deleted']}", markup=False)
    )


@app.command()
def summary(ctx: typer.Context) -> None:
    """Tokens, active tokens, users and today's requests.

    Example: gephyr tokens summary
    """
    st = get_state(ctx)
    st.out.show(st.call("tokens.summary"), lambda d: st.out.pairs(d.items()))


@app.command()
def ips(ctx: typer.Context, token_id: IdArg) -> None:
    """List the client IPs a token is bound to.

    Example: gephyr tokens ips 3f2c...
    """
    st = get_state(ctx)
    cols = ["ip_address", "first_seen_at", "last_seen_at", "request_count", "user_agent"]
    st.out.show(
        st.call("tokens.ips", id=token_id), lambda d: st.out.table(cols, [[b[c] for c in cols] for b in d])
    )


@app.command("clear-ips")
def clear_ips(ctx: typer.Context, token_id: IdArg) -> None:
    """Forget a token's bound IPs (frees its IP cap).

    Example: gephyr tokens clear-ips 3f2c...
    """
    st = get_state(ctx)
    data = st.call("tokens.clear_ips", id=token_id)
    st.out.show(data, lambda d: st.out.console.print(f"cleared {d['cleared']} IP binding(s)"))
