"""Blocking account calls on the pool's route: token refresh, revocation, probes, list-models.

These calls run in worker threads (admin operations, the health check, the relay's refresh
via `asyncio.to_thread`), so they use blocking clients. Inside a server `EgressHttp` holds the
server's router (health, bindings, counters) and its `ClientPool`, whose `sync` client per
route is reused by every call; the local CLI backend gets a router of its own, bindings read
from the data dir, and a short-lived client per call on the same route (pool.md §3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from gephyr_core.config import Settings
from gephyr_core.pool.router import Egress, EgressRouter

if TYPE_CHECKING:
    import httpx

    from gephyr_core.admin.context import AdminContext
    from gephyr_core.relay.http import ClientPool
    from gephyr_core.store import Store


#: the account id of an account call made before the account is stored (no binding yet)
UNBOUND = ""


class Send(Protocol):
    """One HTTP call whose response body is read; httpx errors and `PoolRejected` propagate."""

    def __call__(self, method: str, url: str, *, timeout: float, **kwargs: Any) -> httpx.Response: ...


class EgressHttp:
    """Routes each call by its account (bound → shared → `upstream_proxy` → direct, or rejected)."""

    def __init__(
        self,
        router: EgressRouter,
        clients: ClientPool | None = None,
        bindings: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        self.router = router
        self.clients = clients
        self._bindings = bindings  # the local backend reads them on first use

    @classmethod
    def local(cls, store: Store, settings: Callable[[], Settings]) -> EgressHttp:
        """For a process without a server: a private router over the data dir's bindings."""
        from gephyr_core.store import pool as pool_table

        return cls(EgressRouter(settings), None, lambda: pool_table.load(store))

    def route(self, account_id: str | None) -> Egress:
        """The route of a call made for `account_id` (None: a call made for no account)."""
        if self._bindings is not None:
            self.router.bindings, self._bindings = self._bindings(), None
        return self.router.resolve(account_id)

    def request(self, account_id: str | None, method: str, url: str, *, timeout: float, **kwargs: Any) -> Any:
        """One call on the account's route; the body is read before the route is released."""
        egress = self.route(account_id)  # PoolRejected when fail-closed: nothing leaves
        self.router.started(egress)
        try:
            if self.clients is None:
                return _once(egress, method, url, timeout, kwargs)
            self.clients.retire(self.router.active_routes())
            self.clients.sweep_sync()
            client = self.clients.sync(egress.route, egress.proxy)
            try:
                return client.request(method, url, timeout=timeout, **kwargs)
            finally:
                self.clients.sync_ended(egress.route)
        finally:
            self.router.ended(egress)

    def sender(self, account_id: str | None) -> Send:
        """`request` bound to one account."""

        def send(method: str, url: str, *, timeout: float, **kwargs: Any) -> httpx.Response:
            response: httpx.Response = self.request(account_id, method, url, timeout=timeout, **kwargs)
            return response

        return send


def _once(egress: Egress, method: str, url: str, timeout: float, kwargs: dict[str, Any]) -> Any:
    """A short-lived client on the route (the CLI's local backend)."""
    import httpx

    proxy = egress.proxy.httpx_proxy() if egress.proxy is not None else None
    with httpx.Client(timeout=timeout, trust_env=False, proxy=proxy) as client:
        return client.request(method, url, **kwargs)


def for_context(ctx: AdminContext) -> EgressHttp:
    """The running server's pool and clients when the context has a runtime, else a local one."""
    runtime = ctx.runtime
    router = getattr(runtime, "pool", None)
    if isinstance(router, EgressRouter):
        return EgressHttp(router, getattr(runtime, "pool_clients", None))
    return EgressHttp.local(ctx.store, ctx.settings)
