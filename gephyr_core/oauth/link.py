"""Saving a linked identity as an account, linking by refresh token, revoking (oauth.md §7, §9)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gephyr_core.accounts import service
from gephyr_core.config import Settings
from gephyr_core.errors import CredentialInvalid, GephyrError
from gephyr_core.oauth import client
from gephyr_core.oauth.identity import Identity, JwksCache, identify
from gephyr_core.oauth.provider import ProviderConfig, provider_config
from gephyr_core.secrets import SecretBox
from gephyr_core.store import Store, audit

if TYPE_CHECKING:
    from gephyr_core.pool.egress import Send


class Linker:
    """Upserts verified identities into the store (accounts.md §3) and audits `oauth.linked`."""

    def __init__(
        self,
        store: Store,
        box: SecretBox,
        settings: Callable[[], Settings],
        actor: str = "oauth",
        send: Callable[[], Send | None] | None = None,
    ) -> None:
        self.store = store
        # linking calls are made for no account yet: shared proxy, upstream_proxy or direct
        self.send: Callable[[], Send | None] = send or (lambda: None)
        self.box = box
        self._settings = settings
        self.actor = actor
        self.jwks = JwksCache()
        self.last_created = False

    def save(
        self,
        cfg: ProviderConfig,
        tokens: dict[str, Any],
        who: Identity,
        label: str | None = None,
        models: list[str] | None = None,
    ) -> str:
        """Upsert the account of `who` with encrypted tokens; returns its id."""
        provider = cfg.account_provider
        now = int(time.time())
        acc = service.AccountInput(
            provider=provider,
            base_url=str(self._settings().get(f"providers.{provider}.base_url")),
            credential=service.Credential(
                "oauth",
                str(tokens["refresh_token"]),
                access_token=str(tokens["access_token"]),
                token_expires_at=now + int(tokens["expires_in"]),
            ),
            label=label,
            email=who.email,
            name=who.name,
            models=models,
            oauth_provider=cfg.name,
            oauth_subject=who.subject,
        )
        account_id, self.last_created = service.upsert(self.store, self.box, acc)
        self._audit(account_id, who.email, cfg.name)
        return account_id

    def _audit(self, account_id: str, email: str, provider: str) -> None:
        audit.record(
            self.store,
            self.actor,
            "oauth.linked",
            account_id,
            after={"email": email, "oauth_provider": provider},
        )

    def link_refresh_token(
        self, refresh_token: str, label: str | None = None, models: list[str] | None = None
    ) -> tuple[str, bool]:
        """Refresh, verify the identity and upsert (accounts.md §7.1): (account id, created)."""
        cfg = provider_config(self._settings())
        send = self.send()
        try:
            tokens = client.refresh(cfg, refresh_token.strip(), send=send)
        except client.TokenError as exc:
            if exc.network:
                raise
            raise CredentialInvalid(
                f"the identity provider rejected the refresh token ({exc.message})"
            ) from exc
        # Without rotation the provider returns no refresh token: the given one stays valid.
        tokens["refresh_token"] = tokens.get("refresh_token") or refresh_token.strip()
        who = identify(cfg, tokens, self.jwks, send)
        account_id = self.save(cfg, tokens, who, label, models)
        return account_id, self.last_created


def revoke_account(settings: Settings, box: SecretBox, row: dict[str, Any], send: Send | None = None) -> bool:
    """Revoke an OAuth account's refresh token remotely (on its egress route `send`); False if nothing to."""
    if row.get("credential_kind") != "oauth" or not row.get("secret"):
        return False
    token = box.decrypt("account.secret", row["secret"])
    cfg = provider_config(settings, row.get("oauth_provider") or None, need_client=False)
    try:
        client.revoke(cfg, token, send=send)
    except GephyrError as exc:
        raise GephyrError(
            f"could not revoke the token of {row['label']}: {exc.message}", code="upstream_error"
        ) from exc
    return True
