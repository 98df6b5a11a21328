"""`gephyr config`: show, read and change config.toml (comments are kept)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from gephyr_cli.output import ExitCode, fail
from gephyr_cli.state import get_state

app = typer.Typer(help="Show and change the configuration (config.toml).", no_args_is_help=True)


def _toml(data: dict[str, Any]) -> str:
    import tomlkit

    return tomlkit.dumps(data)


@app.command()
def show(ctx: typer.Context) -> None:
    """Show the persisted configuration with secrets redacted.

    Example: gephyr config show --json
    """
    st = get_state(ctx)
    st.out.show(st.call("config.get"), lambda d: st.out.console.print(_toml(d), markup=False))


@app.command()
def get(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Dotted key, e.g. server.port.")],
    reveal: Annotated[bool, typer.Option("--reveal", help="Print a secret in clear (local only).")] = False,
) -> None:
    """Print one configuration value.

    Example: gephyr config get auth.api_key --reveal
    """
    from gephyr_core.config.keys import get_path

    st = get_state(ctx)
    if reveal:
        if st.remote:
            raise fail(
                "--reveal reads config.toml on this host; it cannot be used with --remote", ExitCode.USAGE
            )
        from gephyr_core.admin.config import reveal as reveal_value

        value = _lookup(lambda: reveal_value(st.context(), key), key)
    else:
        data = st.call("config.get")
        value = _lookup(lambda: get_path(data, key), key)
    if st.out.as_json:
        st.out.json({"key": key, "value": value})
    elif isinstance(value, dict | list):
        st.out.console.print(json.dumps(value, indent=2), markup=False)
    else:
        st.out.console.print(str(value).lower() if isinstance(value, bool) else str(value), markup=False)


def _lookup(fn: Any, key: str) -> Any:
    try:
        return fn()
    except (KeyError, ValueError):
        raise fail(f"unknown config key {key!r}", ExitCode.NOT_FOUND) from None


@app.command("set")
def set_(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Dotted key, e.g. server.port.")],
    value: Annotated[str, typer.Argument(help="New value (typed like the key's default).")],
) -> None:
    """Set one configuration value (validated, saved atomically, applied live).

    Example: gephyr config set server.request_timeout 300
    """
    from gephyr_core.config.keys import split_key
    from gephyr_core.config.values import parse_value

    st = get_state(ctx)
    try:
        parts = split_key(key)
    except ValueError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None
    patch: dict[str, Any] = {parts[-1]: parse_value(key, value)}
    for part in reversed(parts[:-1]):
        patch = {part: patch}
    data = st.call("config.save", config=patch)

    def human(d: dict[str, Any]) -> None:
        st.out.console.print(d["message"], markup=False)
        for w in d["warnings"]:
            st.out.hint(f"warning: {w}")

    st.out.show(data, human)


@app.command()
def path(ctx: typer.Context) -> None:
    """Print the path of config.toml (works even when it does not parse).

    Example: gephyr config path
    """
    import os

    from gephyr_core.datadir import DataDir, resolve_data_dir

    st = get_state(ctx)
    p = DataDir(resolve_data_dir(st.data_dir, os.environ)).config_path
    st.out.show({"path": str(p)}, lambda d: st.out.console.print(d["path"], markup=False))


@app.command()
def validate(ctx: typer.Context) -> None:
    """Validate config.toml with environment overlays (exit 2 with one line per problem).

    Example: gephyr config validate
    """
    import os

    from gephyr_core.config.validate import validate as check

    st = get_state(ctx)
    settings = st.context().config.settings(os.environ)
    problems, warnings = check(settings.data)
    warnings = list(settings.warnings) + warnings
    result = {"ok": not problems, "problems": problems, "warnings": warnings}
    if st.out.as_json:
        st.out.json(result)
    else:
        for w in warnings:
            st.out.hint(f"warning: {w}")
        for p in problems:
            st.out.err.print(f"{p['field']}: {p['message']}", markup=False)
        if not problems:
            st.out.console.print("config.toml is valid")
    if problems:
        raise typer.Exit(int(ExitCode.USAGE))
