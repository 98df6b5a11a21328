"""`gephyr serve`: run the relay."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gephyr_cli.output import ExitCode, fail, one_line
from gephyr_cli.state import get_state


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default 8045; 0 picks a free one).", min=0, max=65535)
    ] = None,
    lan: Annotated[bool, typer.Option("--lan", help="Bind 0.0.0.0 (ALLOW_LAN_ACCESS).")] = False,
    admin: Annotated[
        bool | None, typer.Option("--admin/--no-admin", help="Serve the admin API (/api).")
    ] = None,
) -> None:
    """Start the relay on the data dir (Ctrl-C stops it gracefully).

    Example: gephyr serve --port 8045 --admin
    """
    import logging

    from gephyr_core.server.serve import prepare, run

    st = get_state(ctx)
    overrides: dict[str, Any] = {}
    if host is not None:
        overrides["server.host"] = host
    if port is not None:
        overrides["server.port"] = port
    if lan:
        overrides["server.allow_lan_access"] = True
    if admin is not None:
        overrides["admin.enabled"] = admin
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from gephyr_core.errors import GephyrError

    c = st.context()
    c.overrides = overrides

    def say(line: str) -> None:
        st.out.err.print(line, markup=False)

    try:
        runtime = prepare(c, overrides, say)
        run(runtime, say)
    except GephyrError as exc:
        # Every startup failure exits 1 with one line naming the cause (config.md §8).
        raise fail(one_line(exc), ExitCode.FAILED) from None
