"""`gephyr accounts profile`: versioned outbound header profiles of one account."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gephyr_cli.output import ExitCode, Output, fail
from gephyr_cli.state import CliState, get_state

app = typer.Typer(help="Bind, list, restore and clear an account's header profiles.", no_args_is_help=True)

RefArg = Annotated[str, typer.Argument(help="Account id, id prefix (6+ chars), email or label.")]
VersionArg = Annotated[int, typer.Argument(help="Profile version number.", min=1)]


def _account_id(st: CliState, ref: str) -> str:
    from gephyr_core.accounts.view import resolve_ref

    return str(resolve_ref(st.call("accounts.list")["accounts"], ref)["id"])


def _parse_headers(items: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise fail(f"header {item!r} must be NAME:VALUE", ExitCode.USAGE)
        headers[name.strip()] = value.strip()
    return headers


def _version_table(out: Output, versions: list[dict[str, Any]]) -> None:
    out.table(
        ["", "version", "label", "headers", "created"],
        [
            (
                "*" if v["is_current"] else "",
                v["version"],
                v["label"],
                ", ".join(f"{k}: {val}" for k, val in v["headers"].items()),
                v["created_at"],
            )
            for v in versions
        ],
    )


@app.command()
def bind(
    ctx: typer.Context,
    account: RefArg,
    header: Annotated[list[str], typer.Option("-H", "--header", help="NAME:VALUE (repeat).")],
    label: Annotated[str | None, typer.Option(help="A name for this version.")] = None,
) -> None:
    """Bind a new header profile version (it becomes current at once).

    Example: gephyr accounts profile bind team-a -H OpenAI-Organization:org-123 -H OpenAI-Project:proj_9
    """
    st = get_state(ctx)
    headers = _parse_headers(header)
    data = st.call("accounts.bind_header_profile", id=_account_id(st, account), headers=headers, label=label)
    st.out.show(data, lambda d: _version_table(st.out, [d["profile"]]))


@app.command()
def versions(ctx: typer.Context, account: RefArg) -> None:
    """List an account's header profile versions, current marked with *.

    Example: gephyr accounts profile versions team-a
    """
    st = get_state(ctx)
    data = st.call("accounts.header_profile_versions", id=_account_id(st, account))
    st.out.show(data, lambda d: _version_table(st.out, d["history"]))


@app.command()
def restore(ctx: typer.Context, account: RefArg, version: VersionArg) -> None:
    """Make an earlier header profile version current again.

    Example: gephyr accounts profile restore team-a 2
    """
    st = get_state(ctx)
    data = st.call("accounts.restore_header_profile", id=_account_id(st, account), version=version)
    st.out.show(data, lambda d: _version_table(st.out, [d]))


@app.command("delete-version")
def delete_version(ctx: typer.Context, account: RefArg, version: VersionArg) -> None:
    """Delete a header profile version that is not current.

    Example: gephyr accounts profile delete-version team-a 1
    """
    st = get_state(ctx)
    st.call("accounts.delete_header_profile_version", id=_account_id(st, account), version=version)
    data = {"ok": True, "deleted": version}
    st.out.show(data, lambda d: st.out.console.print(f"deleted version {d['deleted']}"))


@app.command()
def clear(ctx: typer.Context, account: RefArg) -> None:
    """Unbind the account's header profile (history is kept).

    Example: gephyr accounts profile clear team-a
    """
    st = get_state(ctx)
    st.call("accounts.clear_header_profile", id=_account_id(st, account))
    st.out.show({"ok": True}, lambda d: st.out.console.print("header profile cleared"))
