"""`gephyr accounts`: add, list, inspect and manage upstream accounts."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from gephyr_cli.commands._accounts_view import account_detail, account_table
from gephyr_cli.commands._profile import app as profile_app
from gephyr_cli.output import ExitCode, fail
from gephyr_cli.state import CliState, get_state

app = typer.Typer(
    help="Manage upstream accounts (API keys and OAuth-linked credentials).", no_args_is_help=True
)

RefArg = Annotated[str, typer.Argument(help="Account id, id prefix (6+ chars), email or label.")]


def resolve(state: CliState, ref: str) -> dict[str, Any]:
    """The account a reference names (exit 3 if none, 2 if several)."""
    from gephyr_core.accounts.view import resolve_ref

    return resolve_ref(state.call("accounts.list")["accounts"], ref)


@contextlib.contextmanager
def progress(st: CliState, text: str) -> Iterator[None]:
    """A transient Rich progress bar on stderr for a long call; silent with --json or off a TTY."""
    import sys

    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    enabled = not st.out.as_json and not st.out.quiet and sys.stderr.isatty()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=st.out.err, transient=True, disable=not enabled) as bar:
        bar.add_task(text, total=None)
        yield


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List accounts, current first marked with *.

    Example: gephyr accounts list --json
    """
    st = get_state(ctx)
    data = st.call("accounts.list")
    st.out.show(data, lambda d: account_table(st.out, d["accounts"]))


@app.command()
def show(ctx: typer.Context, account: RefArg) -> None:
    """Show one account.

    Example: gephyr accounts show team-a
    """
    st = get_state(ctx)
    data = st.call("accounts.show", id=resolve(st, account)["id"])
    st.out.show(data, lambda d: account_detail(st.out, d))


@app.command()
def current(ctx: typer.Context) -> None:
    """Show the current account.

    Example: gephyr accounts current
    """
    st = get_state(ctx)
    st.out.show(st.call("accounts.current"), lambda d: account_detail(st.out, d))


@app.command()
def add(
    ctx: typer.Context,
    provider: Annotated[
        str | None, typer.Option(help="openai, anthropic or gemini (refresh tokens: gemini).")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(help="The provider API key.", envvar="GEPHYR_ACCOUNT_API_KEY")
    ] = None,
    refresh_token: Annotated[
        str | None,
        typer.Option(
            help="An OAuth refresh token (links a gemini account).", envvar="GEPHYR_ACCOUNT_REFRESH_TOKEN"
        ),
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="API base URL (default per provider).")] = None,
    label: Annotated[str | None, typer.Option(help="Operator name for the account.")] = None,
    email: Annotated[str | None, typer.Option(help="Email to record.")] = None,
    models: Annotated[
        list[str] | None, typer.Option("--models", help="Model glob it serves (repeat).")
    ] = None,
    verify: Annotated[
        bool, typer.Option("--verify/--no-verify", help="Check the key with list-models.")
    ] = False,
) -> None:
    """Add an account from an API key or an OAuth refresh token (or update the one it matches).

    Example: gephyr accounts add --provider anthropic --api-key sk-ant-... --label team-a
    """
    st = get_state(ctx)
    if bool(api_key) == bool(refresh_token):
        raise fail("give exactly one of --api-key or --refresh-token", ExitCode.USAGE)
    if api_key and not provider:
        raise fail("--provider is required with --api-key", ExitCode.USAGE)
    data = st.call(
        "accounts.add",
        provider=provider,
        api_key=api_key,
        refresh_token=refresh_token,
        base_url=base_url,
        label=label,
        email=email,
        models=models or None,
        verify=verify,
    )
    st.out.show(data, lambda d: account_detail(st.out, d))


@app.command()
def update(
    ctx: typer.Context,
    account: RefArg,
    label: Annotated[str | None, typer.Option(help="New label.")] = None,
    email: Annotated[str | None, typer.Option(help="New email (empty clears).")] = None,
    base_url: Annotated[str | None, typer.Option(help="New base URL.")] = None,
    models: Annotated[
        list[str] | None, typer.Option("--models", help="Model globs (repeat); '' resets.")
    ] = None,
    probe_model: Annotated[str | None, typer.Option(help="Model used by probes.")] = None,
    api_key: Annotated[str | None, typer.Option(help="Replace the API key.")] = None,
) -> None:
    """Change an account's settings or API key.

    Example: gephyr accounts update team-a --label team-b --models 'gpt-4o*'
    """
    st = get_state(ctx)
    if models is not None:
        models = [m for m in models if m]
    fields = {
        "label": label,
        "email": email,
        "base_url": base_url,
        "models": models,
        "probe_model": probe_model,
        "api_key": api_key,
    }
    data = st.call(
        "accounts.update", id=resolve(st, account)["id"], **{k: v for k, v in fields.items() if v is not None}
    )
    st.out.show(data, lambda d: account_detail(st.out, d))


@app.command()
def switch(ctx: typer.Context, account: RefArg) -> None:
    """Make an account the current one.

    Example: gephyr accounts switch team-a
    """
    st = get_state(ctx)
    acc = resolve(st, account)
    st.out.show(
        st.call("accounts.switch", account_id=acc["id"]),
        lambda d: st.out.console.print(f"current account: {acc['label']}"),
    )


@app.command()
def delete(
    ctx: typer.Context,
    accounts: Annotated[list[str] | None, typer.Argument(help="Accounts to delete.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Delete every account.")] = False,
) -> None:
    """Delete accounts (token statistics are kept).

    Example: gephyr accounts delete team-a team-b
    """
    st = get_state(ctx)
    if all_ == bool(accounts):
        raise fail("give account ids or --all (not both)", ExitCode.USAGE)
    if all_:
        ids = [a["id"] for a in st.call("accounts.list")["accounts"]]
        data = st.call("accounts.bulk_delete", account_ids=ids)
    elif len(accounts or []) == 1:
        st.call("accounts.delete", id=resolve(st, (accounts or [""])[0])["id"])
        data = {"deleted": 1}
    else:
        ids = [resolve(st, a)["id"] for a in accounts or []]
        data = st.call("accounts.bulk_delete", account_ids=ids)
    st.out.show(data, lambda d: st.out.console.print(f"deleted {d['deleted']} account(s)"))


@app.command()
def reorder(
    ctx: typer.Context, accounts: Annotated[list[str], typer.Argument(help="Accounts in the new order.")]
) -> None:
    """Put accounts first, in the given order.

    Example: gephyr accounts reorder team-b team-a
    """
    st = get_state(ctx)
    ids = [resolve(st, a)["id"] for a in accounts]
    st.out.show(st.call("accounts.reorder", account_ids=ids), lambda d: st.out.console.print("reordered"))


@app.command("toggle-proxy")
def toggle_proxy(
    ctx: typer.Context,
    account: RefArg,
    on: Annotated[bool, typer.Option("--on/--off", help="Route traffic to it (--on) or not (--off).")],
    reason: Annotated[str | None, typer.Option(help="Why it is switched off.")] = None,
) -> None:
    """Allow or forbid routing traffic to an account.

    Example: gephyr accounts toggle-proxy team-a --off --reason "billing"
    """
    st = get_state(ctx)
    data = st.call("accounts.toggle_proxy", id=resolve(st, account)["id"], enable=on, reason=reason)
    st.out.show(data, lambda d: account_detail(st.out, d))


@app.command()
def signout(
    ctx: typer.Context,
    account: Annotated[str | None, typer.Argument(help="Account to sign out.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Sign out every account.")] = False,
    delete_: Annotated[bool, typer.Option("--delete", help="Also delete the account.")] = False,
    revoke: Annotated[
        bool, typer.Option("--revoke/--no-revoke", help="Revoke OAuth tokens remotely.")
    ] = True,
) -> None:
    """Sign out: erase the stored credential and disable the account.

    Example: gephyr accounts signout team-a --delete
    """
    st = get_state(ctx)
    if all_ == bool(account):
        raise fail("give an account or --all (not both)", ExitCode.USAGE)
    if all_:
        with progress(st, "signing out every account"):
            data = st.call("accounts.signout_all", revoke_remote=revoke, delete_local=delete_)
    else:
        data = st.call(
            "accounts.signout",
            id=resolve(st, account or "")["id"],
            revoke_remote=revoke,
            delete_local=delete_,
        )
    st.out.show(data, lambda d: st.out.pairs(d.items()))


@app.command()
def export(
    ctx: typer.Context,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to this file (mode 0600).")
    ] = None,
    legacy: Annotated[
        bool, typer.Option("--legacy", help="Legacy {accounts:[{email, refresh_token}]} shape.")
    ] = False,
    accounts: Annotated[list[str] | None, typer.Argument(help="Accounts to export (default all).")] = None,
) -> None:
    """Export accounts with their credentials (treat the file as a secret).

    Example: gephyr accounts export -o accounts.json
    """
    st = get_state(ctx)
    ids = [resolve(st, a)["id"] for a in accounts] if accounts else None
    data = st.call("accounts.export", account_ids=ids, format="legacy" if legacy else "gephyr")
    if output is None:
        st.out.json(data)
        return
    from gephyr_core.datadir import write_private

    write_private(output.resolve(), (json.dumps(data, indent=2) + "\n").encode())
    summary = {"ok": True, "path": str(output), "accounts": len(data["accounts"])}
    st.out.show(summary, lambda d: st.out.console.print(f"wrote {d['accounts']} account(s) to {d['path']}"))


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="Export file to import.")] = None,
    from_db: Annotated[str | None, typer.Option("--from-db", help="Another data dir or gephyr.db.")] = None,
) -> None:
    """Import accounts from an export file or another data dir.

    Example: gephyr accounts import accounts.json
    """
    st = get_state(ctx)
    if (file is None) == (from_db is None):
        raise fail("give a FILE or --from-db PATH", ExitCode.USAGE)
    if from_db is not None:
        with progress(st, "importing accounts"):
            data = st.call("accounts.import_db", path=from_db)
    else:
        try:
            body = json.loads(Path(file or "").read_text())
        except (OSError, ValueError) as exc:
            raise fail(f"cannot read {file}: {exc}", ExitCode.USAGE) from None
        with progress(st, "importing accounts"):
            data = st.call("accounts.import", body=body)

    def human(d: dict[str, Any]) -> None:
        st.out.console.print(f"{d['created']} created, {d['updated']} updated, {len(d['failed'])} failed")
        for f in d["failed"]:
            st.out.console.print(f"  #{f['index']} {f.get('label') or ''}: {f['error']}")

    st.out.show(data, human)


@app.command()
def models(ctx: typer.Context, account: RefArg) -> None:
    """Fetch the provider's model list for an account (feeds /v1/models).

    Example: gephyr accounts models team-a
    """
    st = get_state(ctx)
    data = st.call("accounts.fetch_models", id=resolve(st, account)["id"])
    st.out.show(data, lambda d: st.out.console.print("\n".join(d["models"]) or "(no models)", markup=False))


@app.command("health-check")
def health_check(
    ctx: typer.Context,
    probe_api_keys: Annotated[
        bool, typer.Option("--probe-api-keys", help="Also verify API keys with list-models.")
    ] = False,
) -> None:
    """Refresh OAuth tokens near expiry (and verify API keys), one account at a time.

    Example: gephyr accounts health-check --probe-api-keys
    """
    st = get_state(ctx)
    with progress(st, "checking accounts"):
        data = st.call("accounts.health_check", probe_api_keys=probe_api_keys)

    def human(d: dict[str, Any]) -> None:
        st.out.table(
            ["account", "status", "detail"], [(a["label"], a["status"], a["detail"]) for a in d["accounts"]]
        )
        st.out.console.print(
            f"{d['total']} account(s): {d['skipped']} skipped, {d['refreshed']} refreshed, "
            f"{d['disabled']} disabled, {d['forbidden']} forbidden, {d['network_errors']} errors"
        )

    st.out.show(data, human)


def _quota_table(st: CliState, data: dict[str, Any] | None) -> None:
    if data is None:
        st.out.console.print("no quota snapshot yet (run without --cached to probe)")
        return
    rows = [
        (
            m["name"],
            "-" if m["percentage"] is None else f"{m['percentage']}%",
            f"{m['remaining_requests']}/{m['limit_requests']}",
            f"{m['remaining_tokens']}/{m['limit_tokens']}",
            m["reset_time"] or "-",
        )
        for m in data["models"]
    ]
    title = f"source {data['source']}" + (", forbidden" if data["is_forbidden"] else "")
    st.out.table(["model", "left", "requests", "tokens", "reset"], rows, title=title)


@app.command()
def quota(
    ctx: typer.Context,
    account: RefArg,
    cached: Annotated[bool, typer.Option("--cached", help="Show the stored snapshot; no probe.")] = False,
) -> None:
    """Show an account's rate-limit quota (probes with one 1-token call unless --cached).

    Example: gephyr accounts quota team-a --cached
    """
    st = get_state(ctx)
    data = st.call("accounts.quota", id=resolve(st, account)["id"], cached=cached)
    st.out.show(data, lambda d: _quota_table(st, d))


@app.command()
def refresh(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm probing every routable account.")] = False,
) -> None:
    """Probe the quota of every routable account (each probe costs one token).

    Example: gephyr accounts refresh --yes
    """
    st = get_state(ctx)
    if not yes:
        raise fail("a bulk refresh probes every account: confirm with --yes", ExitCode.CONFLICT)
    with progress(st, "probing accounts"):
        data = st.call("accounts.refresh", confirm="true")

    def human(d: dict[str, Any]) -> None:
        for line in d["details"]:
            st.out.console.print(line, markup=False)
        st.out.console.print(f"{d['success']}/{d['total']} ok, {d['failed']} failed")

    st.out.show(data, human)


app.add_typer(profile_app, name="profile")
