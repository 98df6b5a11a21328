"""The relay's view of OAuth accounts: a fresh access token before each attempt (oauth.md §8)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from gephyr_core.errors import GephyrError
from gephyr_core.oauth.client import TokenError
from gephyr_core.oauth.tokens import REASON_LIMIT, TokenRefresher, needs_refresh
from gephyr_core.pool.lease import rejected
from gephyr_core.pool.router import PoolRejected
from gephyr_core.relay.call import AttemptFailed
from gephyr_core.wire import ErrorInfo

_TOKEN_KEYS = ("access_token", "token_expires_at", "secret", "credential_fingerprint", "credential_hint")


class RelayTokens:
    """Refreshes inside the window off the event loop; concurrent attempts share one refresh."""

    def __init__(self, refresher: TokenRefresher) -> None:
        self.refresher = refresher
        self._inflight: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def ensure(self, account: dict[str, Any], force: bool = False) -> None:
        """Bring the account's access token up to date, or fail this attempt (AttemptFailed).

        `force` (after an upstream 401) refreshes even outside the window, once for all the
        requests that saw the same refused token.
        """
        if not force and not needs_refresh(account, self.refresher.window()):
            return
        account_id = str(account["id"])
        task = self._inflight.get(account_id)
        if task is None:
            stale = str(account.get("access_token") or "") if force else None
            task = asyncio.ensure_future(
                asyncio.to_thread(self.refresher.refresh, account_id, force=force, stale=stale)
            )
            self._inflight[account_id] = task
            task.add_done_callback(lambda t: self._done(account_id, t))
        try:
            row = await asyncio.shield(task)
        except TokenError as exc:
            raise AttemptFailed(self._refresh_failed(account, exc), network=exc.network) from exc
        except PoolRejected as exc:  # fail-closed egress: nothing left, 503 like a generation call
            raise rejected(exc) from exc
        except GephyrError as exc:
            raise AttemptFailed(
                ErrorInfo("upstream_error", 502, f"token refresh failed: {exc.message}")
            ) from exc
        for key in _TOKEN_KEYS:
            account[key] = row.get(key)

    def _done(self, account_id: str, task: asyncio.Future[dict[str, Any]]) -> None:
        if self._inflight.get(account_id) is task:
            del self._inflight[account_id]
        if not task.cancelled():
            task.exception()  # retrieved here: every awaiter re-raises it on its own

    @staticmethod
    def _refresh_failed(account: dict[str, Any], exc: TokenError) -> ErrorInfo:
        label = account.get("label") or account.get("id")
        if exc.invalid_grant:
            # Out of routing at once; the store already says so for the next reload.
            account.update(
                {
                    "disabled": True,
                    "disabled_reason": f"invalid_grant: {exc.message}"[:REASON_LIMIT],
                    "disabled_at": int(time.time()),
                }
            )
            return ErrorInfo(
                "authentication",
                401,
                f"OAuth account {label} was disabled ({exc.message}); link it again: gephyr oauth login",
            )
        return ErrorInfo("upstream_error", 502, f"token refresh for account {label} failed: {exc.message}")
