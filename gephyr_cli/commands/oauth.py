"""`gephyr oauth`: link accounts by signing in with the identity provider (OAuth + PKCE)."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated, Any

import typer

from gephyr_cli.commands._accounts_view import account_detail
from gephyr_cli.state import CliState, get_state

app = typer.Typer(
    help="Link accounts by OAuth sign-in; follow, cancel or complete a sign-in.", no_args_is_help=True
)

TERMINAL = ("linked", "rejected", "failed", "cancelled")


def _line(data: Any) -> None:
    """One compact JSON document per line (progress-style output with --json)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _announce(st: CliState, url: str, browser: bool) -> None:
    if browser:
        st.out.hint(f"Opening your browser; if it does not open, visit:\n{url}")
        return
    st.out.err.print(f"Open this URL in a browser to sign in:\n{url}", markup=False)
    if st.out.as_json:
        _line({"url": url})


def _open(url: str) -> None:
    import webbrowser

    webbrowser.open(url)


def _remote_login(st: CliState, browser: bool) -> Any:
    """Web flow on the server, then poll its status every second until a terminal phase."""
    from gephyr_core.errors import GephyrError

    started = st.call("oauth.url")
    _announce(st, started["url"], browser)
    if browser:
        _open(started["url"])
    while True:
        status = st.call("oauth.status")
        if status["phase"] in TERMINAL:
            break
        time.sleep(1)
    if status["phase"] != "linked":
        code = "oauth.access_denied" if status["phase"] == "rejected" else "oauth.flow_failed"
        raise GephyrError(f"sign-in {status['phase']}: {status['detail']}", code=code)
    email = (status.get("account_email") or "").lower()
    accounts = st.call("accounts.list")["accounts"]
    return next((a for a in accounts if (a.get("email") or "").lower() == email), status)


@app.command()
def login(
    ctx: typer.Context,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the sign-in URL instead of opening a browser.")
    ] = False,
) -> None:
    """Sign in and link the account (a loopback listener here; with --remote, the server's web flow).

    Example: gephyr oauth login --no-browser
    """
    st = get_state(ctx)
    if st.remote:
        data = _remote_login(st, not no_browser)
    else:
        from gephyr_core.admin.oauth import local_oauth
        from gephyr_core.backend import LocalBackend

        local = st.context()
        local_oauth(local)  # the flow lives in this process, even while a server runs
        backend = LocalBackend(local)
        prepared = backend.call("oauth.prepare")
        _announce(st, prepared["url"], not no_browser)
        data = backend.call("oauth.complete" if no_browser else "oauth.start")
    if st.out.as_json and no_browser:
        _line(data)
        return
    st.out.show(data, lambda d: account_detail(st.out, d))


@app.command()
def prepare(ctx: typer.Context) -> None:
    """Prepare a sign-in on the running server and print its URL.

    Example: gephyr oauth prepare
    """
    st = get_state(ctx)
    st.out.show(st.call("oauth.prepare"), lambda d: st.out.pairs(d.items()))


@app.command()
def url(ctx: typer.Context) -> None:
    """Start a web sign-in on the running server (callback at its /auth/callback).

    Example: gephyr --remote https://relay.example.com oauth url
    """
    st = get_state(ctx)
    st.out.show(st.call("oauth.url"), lambda d: st.out.pairs(d.items()))


def _status_human(st: CliState, d: dict[str, Any]) -> None:
    st.out.pairs([(k, d.get(k)) for k in ("phase", "detail", "account_email", "updated_at_unix", "flow")])
    rows = [
        (e["updated_at_unix"], e["phase"], e["detail"], e.get("account_email") or "")
        for e in d["recent_events"]
    ]
    if rows:
        st.out.table(["time", "phase", "detail", "email"], rows, title="recent events")
    st.out.pairs(d["counters"].items())


@app.command()
def status(ctx: typer.Context) -> None:
    """Show the sign-in phase, recent events and counters.

    Example: gephyr oauth status --json
    """
    st = get_state(ctx)
    st.out.show(st.call("oauth.status"), lambda d: _status_human(st, d))


@app.command()
def cancel(ctx: typer.Context) -> None:
    """Cancel the sign-in in progress.

    Example: gephyr oauth cancel
    """
    st = get_state(ctx)
    data = st.call("oauth.cancel")
    st.out.show(
        data, lambda d: st.out.console.print("cancelled" if d["cancelled"] else "no sign-in in progress")
    )


@app.command("submit-code")
def submit_code(
    ctx: typer.Context,
    code_or_url: Annotated[str, typer.Argument(help="The code, or the whole redirect URL from the browser.")],
    state: Annotated[
        str | None, typer.Option(help="The flow's state (taken from the URL when pasted).")
    ] = None,
) -> None:
    """Complete a sign-in on a headless host by pasting the code or the redirect URL.

    Example: gephyr oauth submit-code 'http://localhost:8045/auth/callback?code=4/0Ab...&state=...'
    """
    st = get_state(ctx)
    body: dict[str, Any] = {"code": code_or_url}
    if state:
        body["state"] = state
    st.out.show(st.call("oauth.submit_code", body=body), lambda d: st.out.console.print("code accepted"))
