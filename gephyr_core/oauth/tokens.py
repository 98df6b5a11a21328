"""Access-token refresh of stored OAuth accounts (oauth.md §8): one refresh in flight per account.

A refresh happens when `token_expires_at ≤ now + refresh_window_seconds`. A returned
refresh token replaces the stored one (encrypted). An `invalid_grant` answer disables the
account with reason `invalid_grant: <detail>` and drops its session bindings.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from gephyr_core.accounts.view import fingerprint, hint
from gephyr_core.config import Settings
from gephyr_core.errors import GephyrError, NotFound
from gephyr_core.oauth import client
from gephyr_core.oauth.provider import provider_config
from gephyr_core.pool.egress import EgressHttp
from gephyr_core.secrets import SecretBox
from gephyr_core.store import Store
from gephyr_core.store import accounts as table

REASON_LIMIT = 800


def needs_refresh(account: dict[str, Any], window_seconds: int, now: float | None = None) -> bool:
    """True for an OAuth account without a usable access token inside the refresh window."""
    if account.get("credential_kind") != "oauth" or not account.get("secret"):
        return False
    expires = account.get("token_expires_at")
    if not account.get("access_token") or expires is None:
        return True
    return int(expires) <= (time.time() if now is None else now) + window_seconds


class TokenRefresher:
    """Refreshes OAuth accounts on the store; concurrent callers for one account share a call."""

    def __init__(
        self, store: Store, box: SecretBox, settings: Callable[[], Settings], egress: EgressHttp | None = None
    ) -> None:
        self.store = store
        self.box = box
        self._settings = settings
        # refreshes leave by the account's egress route; a server swaps in its pool's (create_app)
        self.egress = egress or EgressHttp.local(store, settings)
        self._guard = threading.Lock()
        self.results = {"success": 0, "invalid_grant": 0, "error": 0}  # refresh calls made (metrics)
        self._locks: dict[str, threading.Lock] = {}
        self._attempts: deque[tuple[float, str]] = deque()

    def window(self) -> int:
        return int(self._settings().get("oauth.refresh_window_seconds") or 0)

    def _lock_for(self, account_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(account_id, threading.Lock())

    def attempts_last_minute(self, account_id: str | None = None) -> int:
        """Refresh attempts in the last 60 s, globally or for one account."""
        cutoff = time.time() - 60
        with self._guard:
            while self._attempts and self._attempts[0][0] < cutoff:
                self._attempts.popleft()
            return sum(1 for _, a in self._attempts if account_id is None or a == account_id)

    def refresh(
        self,
        account_id: str,
        *,
        force: bool = False,
        stale: str | None = None,
        change: bool = False,
        timeout: float = client.DEFAULT_TIMEOUT,
    ) -> dict[str, Any]:
        """Refresh when inside the window (or `force`, unless the token is no longer `stale`); the row after.

        Raises `client.TokenError` (its `invalid_grant` flag set after the account was
        disabled) or another typed error; `change=True` bumps the change counter so a
        running server reloads (admin callers), the relay updates its own copy instead.
        """
        with self._lock_for(account_id):
            row = table.get_account(self.store, account_id)
            if row is None:
                raise NotFound(f"account {account_id} not found")
            if row.get("credential_kind") != "oauth" or not row.get("secret"):
                raise GephyrError(
                    f"account {row['label']} is not a signed-in OAuth account", code="bad_request"
                )
            # `stale`: force only while the stored token is still the one an upstream refused
            forced = force and (stale is None or row.get("access_token") == stale)
            if not forced and not needs_refresh(row, self.window()):
                return row
            with self._guard:
                self._attempts.append((time.time(), account_id))
            cfg = provider_config(self._settings(), row.get("oauth_provider") or None)
            secret = self.box.decrypt("account.secret", row["secret"])
            try:
                tokens = client.refresh(cfg, secret, timeout, self.egress.sender(account_id))
            except GephyrError as exc:
                self.results["invalid_grant" if getattr(exc, "invalid_grant", False) else "error"] += 1
                if isinstance(exc, client.TokenError) and exc.invalid_grant:
                    self.disable(account_id, exc.message)
                raise
            self.results["success"] += 1
            fields = self._token_fields(tokens, secret)
            with self.store.transaction(change=change) as db:
                table.update_account(db, account_id, fields)
            row.update(fields)
            return row

    def _token_fields(self, tokens: dict[str, Any], old_secret: str) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "access_token": self.box.encrypt("account.access_token", str(tokens["access_token"])),
            "token_expires_at": int(time.time()) + int(tokens["expires_in"]),
            "updated_at": int(time.time()),
        }
        rotated = tokens.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != old_secret:
            fields.update(
                {
                    "secret": self.box.encrypt("account.secret", rotated),
                    "credential_fingerprint": fingerprint(rotated),
                    "credential_hint": hint(rotated),
                }
            )
        return fields

    def disable(self, account_id: str, detail: str) -> dict[str, Any]:
        """Disable after `invalid_grant` (reason capped at 800 chars) and drop its bindings."""
        reason = detail if detail.startswith("invalid_grant") else f"invalid_grant: {detail}"
        fields = {"disabled": True, "disabled_reason": reason[:REASON_LIMIT], "disabled_at": int(time.time())}
        with self.store.transaction(change=True) as db:
            table.update_account(db, account_id, fields)
            if "session_bindings" in db.table_names():
                db.execute("DELETE FROM session_bindings WHERE account_id = ?", [account_id])
        return fields

    def access_token(self, row: dict[str, Any]) -> str:
        """The plaintext access token of a row (empty when none)."""
        stored = row.get("access_token")
        return self.box.decrypt("account.access_token", str(stored)) if stored else ""
