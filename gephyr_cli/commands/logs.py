"""`gephyr logs`: request logs and decision traces."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from gephyr_cli.state import get_state

app = typer.Typer(help="Request logs and the decision trace of a request.", no_args_is_help=True)


@app.command()
def explain(
    ctx: typer.Context,
    request_id: Annotated[str, typer.Argument(help="The x-request-id the relay answered with.")],
) -> None:
    """Show how a request was routed: session, candidates, skips and attempts (needs a server).

    Example: gephyr logs explain 3f1c2a9e-0b7d-4c1e-9a55-2d9e8f7a6b10
    """
    st = get_state(ctx)
    data = st.call("logs.explain", id=request_id)

    def human(d: dict[str, Any]) -> None:
        t = d["trace"]
        st.out.console.print(
            f"session {t['session_id'] or '-'} ({t['session_source']}), model {t['model']}", markup=False
        )
        for skip in t["skipped"]:
            detail = ", ".join(f"{k}={v}" for k, v in skip.items() if k not in ("account_id", "reason"))
            st.out.console.print(
                f"skipped {skip['account_id'][:8]}: {skip['reason']} {detail}".rstrip(), markup=False
            )
        st.out.table(
            ["#", "account", "step", "status", "outcome"],
            [
                (i + 1, a["account_id"][:8], a["step"], a["status"], a["outcome"])
                for i, a in enumerate(t["attempts"])
            ],
        )

    st.out.show(data, human)
