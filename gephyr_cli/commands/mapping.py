"""`gephyr mapping`: map client model names to upstream models and accounts."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gephyr_cli.state import get_state

app = typer.Typer(help="Map client model names to upstream models (routing.mapping).", no_args_is_help=True)


def _show(st: Any, data: dict[str, Any]) -> None:
    rows = sorted(data["custom_mapping"].items())
    if not rows:
        st.out.console.print("No mappings: models are routed by name.")
        return
    st.out.table(["client model", "target"], [(k, v) for k, v in rows])


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """List the model mapping.

    Example: gephyr mapping list
    """
    st = get_state(ctx)
    st.out.show(st.call("mapping.list"), lambda d: _show(st, d))


@app.command("set")
def set_(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Client model name; * matches any run.")],
    target: Annotated[
        str, typer.Argument(help="[provider:]model, or a JSON object {model, provider, accounts}.")
    ],
) -> None:
    """Map a client model (or a wildcard) to an upstream model.

    Example: gephyr mapping set 'claude-*' anthropic:claude-sonnet-4-5
    """
    import json

    st = get_state(ctx)
    value: Any = target
    if target.lstrip().startswith("{"):
        try:
            value = json.loads(target)
        except ValueError as exc:
            from gephyr_core.errors import BadRequest

            raise BadRequest(f"target is not a JSON object: {exc}") from None
    st.out.show(st.call("mapping.save", set={key: value}), lambda d: _show(st, d))


@app.command()
def remove(
    ctx: typer.Context, key: Annotated[str, typer.Argument(help="Client model name to unmap.")]
) -> None:
    """Remove one mapping entry.

    Example: gephyr mapping remove 'claude-*'
    """
    st = get_state(ctx)
    st.out.show(st.call("mapping.save", remove=[key]), lambda d: _show(st, d))
