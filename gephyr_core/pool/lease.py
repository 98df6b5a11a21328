"""Holding an egress route for one attempt: counters rise at the start, fall when the body ends."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from gephyr_core.pool.router import Egress, EgressRouter, PoolRejected
from gephyr_core.relay.call import AttemptFailed, Outcome
from gephyr_core.relay.http import ClientPool
from gephyr_core.wire import ErrorInfo


def rejected(exc: PoolRejected) -> AttemptFailed:
    """A fail-closed rejection as an attempt failure: 503, so the client gets 503 when all fail."""
    return AttemptFailed(ErrorInfo("unavailable", 503, exc.message, code="no_account_available"))


async def choose(router: EgressRouter | None, clients: ClientPool, account_id: str | None) -> Egress:
    """The route of an account call; a fail-closed rejection fails the attempt with 503."""
    if router is None:
        return Egress()
    clients.retire(router.active_routes())
    await clients.sweep()
    try:
        return router.resolve(account_id)
    except PoolRejected as exc:
        raise rejected(exc) from exc


@contextlib.asynccontextmanager
async def held(router: EgressRouter | None, clients: ClientPool, egress: Egress) -> AsyncIterator[None]:
    """Count a call with a whole (non-streamed) answer in flight on `egress` while it runs."""
    if router is not None:
        router.started(egress)
    clients.started(egress.route)
    try:
        yield
    finally:
        if router is not None:
            router.ended(egress)
        clients.ended(egress.route)


async def hold(
    router: EgressRouter | None,
    clients: ClientPool,
    egress: Egress,
    run: Callable[[], Awaitable[Outcome]],
) -> Outcome:
    """Run an attempt on `egress`, counting it in flight until its response or stream ends."""
    if router is not None:
        router.started(egress)
    clients.started(egress.route)

    def end() -> None:
        if router is not None:
            router.ended(egress)
        clients.ended(egress.route)

    try:
        outcome = await run()
    except BaseException:
        end()
        raise
    if outcome.chunks is None:
        end()
        return outcome
    chunks = outcome.chunks

    async def until_end() -> AsyncIterator[bytes]:
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            end()
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()

    outcome.chunks = until_end()
    return outcome
