"""`gephyr integrations`: point Claude Code, Codex, Gemini CLI and OpenCode at the relay.

Without `--remote` this group always runs in the CLI process, on the CLI user's home, even
while a server runs on the data dir (admin-api.md, "Backend choice").
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from gephyr_cli.state import CliState, get_state

app = typer.Typer(help="Point coding tools at the relay, check them and undo it.", no_args_is_help=True)


class Tool(StrEnum):
    claude_code = "claude-code"
    codex = "codex"
    gemini_cli = "gemini-cli"
    opencode = "opencode"


ToolArg = Annotated[Tool, typer.Argument(help="claude-code, codex, gemini-cli or opencode.")]
UrlOpt = Annotated[
    str | None, typer.Option("--proxy-url", help="Relay URL (default: public_url, else this host's port).")
]


def _call(st: CliState, verb: str, tool: Tool, **kwargs: Any) -> Any:
    """The `cli/*` or `opencode/*` operation, remote with --remote, else in this process."""
    if tool is Tool.opencode:
        name = f"integrations.opencode_{verb}"
    else:
        name, kwargs = f"integrations.{verb}", {"app_type": tool.value, **kwargs}
    if st.remote:
        return st.call(name, **kwargs)
    from gephyr_core.backend import LocalBackend

    return LocalBackend(st.context()).call(name, **kwargs)


@app.command()
def status(ctx: typer.Context, tool: ToolArg, proxy_url: UrlOpt = None) -> None:
    """Show whether a tool is installed and pointing at this relay.

    Example: gephyr integrations status claude-code
    """
    st = get_state(ctx)
    data = _call(st, "status", tool, proxy_url=proxy_url)

    def human(d: dict[str, Any]) -> None:
        st.out.pairs((k, v) for k, v in d.items() if k != "files")
        st.out.table(
            ["file", "exists", "backup"],
            [(f["path"], "yes" if f["exists"] else "", "yes" if f["has_backup"] else "") for f in d["files"]],
        )

    st.out.show(data, human)


@app.command()
def sync(
    ctx: typer.Context,
    tool: ToolArg,
    proxy_url: UrlOpt = None,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="Key the tool presents (default: the relay API key).")
    ] = None,
) -> None:
    """Point a tool at the relay (each existing file is backed up once to *.gephyr.bak).

    Example: gephyr integrations sync codex --proxy-url http://127.0.0.1:8045
    """
    st = get_state(ctx)
    data = _call(st, "sync", tool, proxy_url=proxy_url, api_key=api_key)

    def human(d: dict[str, Any]) -> None:
        for path in d["files"]:
            st.out.console.print(f"wrote {path}", markup=False)
        for path in d["backups"]:
            st.out.hint(f"backup {path}")
        if not d["files"]:
            st.out.console.print(f"{tool.value} already points at the relay", markup=False)

    st.out.show(data, human)


@app.command()
def restore(ctx: typer.Context, tool: ToolArg) -> None:
    """Put a tool's files back as they were before the first sync.

    Example: gephyr integrations restore gemini-cli
    """
    st = get_state(ctx)
    data = _call(st, "restore", tool)

    def human(d: dict[str, Any]) -> None:
        for path in d["restored"]:
            st.out.console.print(f"restored {path}", markup=False)
        for path in d["cleaned"]:
            st.out.console.print(f"removed Gephyr settings from {path}", markup=False)

    st.out.show(data, human)


@app.command()
def show(
    ctx: typer.Context,
    tool: ToolArg,
    file: Annotated[
        str | None, typer.Option("--file", help="File name, e.g. auth.json (default: the first).")
    ] = None,
) -> None:
    """Show one of a tool's config files with secrets masked.

    Example: gephyr integrations show codex --file auth.json
    """
    st = get_state(ctx)
    data = _call(st, "config", tool, file_name=file)
    st.out.show(data, lambda d: st.out.console.print(f"# {d['path']}\n{d['content']}", markup=False, end=""))
