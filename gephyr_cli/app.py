"""The `gephyr` command: global options, command groups and the one error boundary."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from gephyr_cli.commands import serve
from gephyr_cli.output import ExitCode, exit_code_for, fail, one_line
from gephyr_cli.state import CliState

VERSION = "0.1.0"


class GephyrGroup(TyperGroup):
    """The root group: every error leaves as one stderr line and a documented exit code."""

    def invoke(self, ctx: typer.Context) -> object:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except KeyboardInterrupt:
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None
        except Exception as exc:
            state = ctx.obj if isinstance(ctx.obj, CliState) else None
            code = handle_error(exc, bool(state and state.debug))
            raise typer.Exit(code) from None


app = typer.Typer(
    cls=GephyrGroup,
    name="gephyr",
    help="Gephyr: one local endpoint for every LLM client, and the tools to run it.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("serve")(serve.serve)


def _add_groups() -> None:
    """Every command module with a Typer `app` is a group named after `GROUP` (or the module)."""
    import importlib
    import pkgutil

    from gephyr_cli import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "serve":
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        group = getattr(module, "app", None)
        if isinstance(group, typer.Typer):
            app.add_typer(group, name=getattr(module, "GROUP", info.name.replace("_", "-")))


_add_groups()


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"gephyr {VERSION}\n")
        raise typer.Exit(0)


@app.callback()
def main_options(
    ctx: typer.Context,
    data_dir: Annotated[
        str | None,
        typer.Option("--data-dir", envvar="GEPHYR_DATA_DIR", help="Data directory (default ~/.gephyr)."),
    ] = None,
    remote: Annotated[
        str | None,
        typer.Option("--remote", envvar="GEPHYR_REMOTE", help="Run against a gephyr server at this URL."),
    ] = None,
    admin_key: Annotated[
        str | None,
        typer.Option("--admin-key", envvar="GEPHYR_ADMIN_KEY", help="Admin credential for --remote."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document (GEPHYR_OUTPUT=json).")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or hints.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain output without colour.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Gephyr: one local endpoint for every LLM client, and the tools to run it."""
    ctx.obj = CliState(
        data_dir=data_dir,
        remote=remote,
        admin_key=admin_key,
        as_json=as_json or os.environ.get("GEPHYR_OUTPUT", "").lower() == "json",
        quiet=quiet,
        color=not no_color and "NO_COLOR" not in os.environ,
        debug=debug,
    )
    ctx.call_on_close(ctx.obj.close)


def main() -> None:
    """Console entry point."""
    app(prog_name="gephyr")


def handle_error(exc: BaseException, debug: bool) -> int:
    """Print one readable line for any error and return its exit code."""
    from gephyr_core.errors import GephyrError

    if debug:
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, GephyrError):
        fail(one_line(exc), exit_code_for(exc.code))
        return int(exit_code_for(exc.code))
    fail(f"{type(exc).__name__}: {exc}", ExitCode.FAILED)
    return int(ExitCode.FAILED)
