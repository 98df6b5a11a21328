"""`gephyr secrets`: encryption-at-rest status and re-encryption."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gephyr_cli.output import ExitCode, fail
from gephyr_cli.state import get_state

app = typer.Typer(help="Inspect and rotate the encryption of stored secrets.", no_args_is_help=True)


@app.command()
def status(ctx: typer.Context) -> None:
    """Show the key source and whether every stored secret decrypts.

    Example: gephyr secrets status --json
    """
    st = get_state(ctx)
    enc = st.call("server.operator_status")["encryption"]
    st.out.show(enc, lambda d: st.out.pairs(d.items()))
    if enc["decryptFailures"]:
        raise typer.Exit(int(ExitCode.FAILED))


@app.command()
def reencrypt(
    ctx: typer.Context,
    old_key_file: Annotated[
        Path | None, typer.Option(help="A previous secret.key to read old values.")
    ] = None,
    old_key_env: Annotated[str | None, typer.Option(help="Env var holding a previous passphrase.")] = None,
) -> None:
    """Re-encrypt every stored secret with the current key (local only, server stopped).

    Example: GEPHYR_ENCRYPTION_KEY=new gephyr secrets reencrypt --old-key-file old.key
    """
    import os

    from gephyr_core.datadir import read_server_json
    from gephyr_core.secrets_rotation import reencrypt as run

    st = get_state(ctx)
    if st.remote:
        raise fail("secrets reencrypt runs on the data dir only, not with --remote", ExitCode.USAGE)
    c = st.context()
    if read_server_json(c.dd):
        raise fail("stop the server running on this data dir first", ExitCode.CONFLICT)
    report = run(c, os.environ, old_key_file, old_key_env)
    st.out.show(report, lambda d: st.out.pairs(d.items()))
    if report["accounts_failed"]:
        raise typer.Exit(int(ExitCode.FAILED))
