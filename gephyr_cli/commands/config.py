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


@app.command("rotate-key")
def rotate_key(ctx: typer.Context) -> None:
    """Generate a new relay API key (shown once; clients need the new key at once).

    Example: gephyr config rotate-key
    """
    st = get_state(ctx)
    data = st.call("config.rotate_api_key")

    def human(d: dict[str, Any]) -> None:
        st.out.console.print(d["api_key"], markup=False)
        st.out.hint(d["message"] + " (the key is shown once)")

    st.out.show(data, human)


@app.command("request-timeout")
def request_timeout(
    ctx: typer.Context,
    seconds: Annotated[int | None, typer.Argument(help="New timeout in seconds (1-600).")] = None,
) -> None:
    """Show or set the upstream request timeout.

    Example: gephyr config request-timeout 300
    """
    st = get_state(ctx)
    if seconds is None:
        data = st.call("config.request_timeout")
    else:
        data = st.call("config.set_request_timeout", request_timeout=seconds)
    keys = ("request_timeout", "effective_request_timeout")
    st.out.show(data, lambda d: st.out.pairs((k, d[k]) for k in keys))


@app.command()
def apply(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="A TOML or JSON file with the keys to change.")],
) -> None:
    """Merge a partial config document from a file (validated as a whole, all or nothing).

    Example: gephyr config apply team.toml
    """
    from pathlib import Path

    st = get_state(ctx)
    try:
        text = Path(file).read_text()
        if file.endswith(".json"):
            patch = json.loads(text)
        else:
            import tomlkit

            patch = tomlkit.parse(text).unwrap()
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read {file}: {exc}", ExitCode.USAGE) from None
    if not isinstance(patch, dict):
        raise fail(f"{file} must hold a table / object", ExitCode.USAGE)
    data = st.call("config.save", config=patch)

    def human(d: dict[str, Any]) -> None:
        st.out.console.print(d["message"], markup=False)
        for w in d["warnings"]:
            st.out.hint(f"warning: {w}")

    st.out.show(data, human)
