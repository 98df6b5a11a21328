"""`gephyr server`: status of the running relay and its capabilities."""

from __future__ import annotations

import typer

from gephyr_cli.state import get_state

app = typer.Typer(help="Inspect the running relay.", no_args_is_help=True)


@app.command()
def status(ctx: typer.Context) -> None:
    """Show whether the relay serves, its URL and routable accounts (needs a server).

    Example: gephyr server status
    """
    st = get_state(ctx)
    st.out.show(st.call("server.status"), lambda d: st.out.pairs(d.items()))


@app.command()
def health(ctx: typer.Context) -> None:
    """Check the running server's health (needs a server).

    Example: gephyr server health
    """
    st = get_state(ctx)
    st.out.show(st.call("server.health"), lambda d: st.out.pairs(d.items()))


@app.command()
def routes(ctx: typer.Context) -> None:
    """List every admin route and operation.

    Example: gephyr server routes --json
    """
    st = get_state(ctx)
    data = st.call("server.routes")
    st.out.show(
        data,
        lambda d: st.out.table(
            ["operation", "method", "path", "runtime only"],
            [
                (o["name"], o["method"], o["path"], "yes" if o["runtime_only"] else "")
                for o in d["operations"]
            ],
        ),
    )


@app.command()
def doctor(ctx: typer.Context) -> None:
    """Operator status: key, secrets, accounts, storage and warnings.

    Example: gephyr server doctor
    """
    st = get_state(ctx)
    data = st.call("server.operator_status")

    def human(d: dict) -> None:
        st.out.pairs((k, v) for k, v in d.items() if k != "warnings")
        for w in d["warnings"]:
            st.out.console.print(f"warning: {w}", markup=False)

    st.out.show(data, human)


@app.command("outbound-policy")
def outbound_policy(ctx: typer.Context) -> None:
    """Show the effective outbound header policy (what reaches each provider).

    Example: gephyr server outbound-policy --json
    """
    st = get_state(ctx)
    data = st.call("server.outbound_policy")

    def human(d: dict) -> None:
        for provider, p in d["providers"].items():
            st.out.console.print(f"{provider}:", markup=False)
            st.out.pairs((k, v) for k, v in p.items())
        redaction = [(f"redaction {k}", v) for k, v in d["debug_redaction"].items()]
        st.out.pairs([*d["header_profiles"].items(), *redaction])

    st.out.show(data, human)


@app.command()
def start(ctx: typer.Context) -> None:
    """Serve the public routes again after a stop (needs a server).

    Example: gephyr server start
    """
    st = get_state(ctx)
    st.out.show(st.call("server.start"), lambda d: st.out.console.print("relay serving"))


@app.command()
def stop(ctx: typer.Context) -> None:
    """Stop serving the public routes (503 service_disabled); the admin API stays up (needs a server).

    Example: gephyr server stop
    """
    st = get_state(ctx)
    data = st.call("server.stop")
    text = "relay stopped" + ("; the server is shutting down" if data.get("shutting_down") else "")
    st.out.show(data, lambda d: st.out.console.print(text))
