"""The configured identity provider and OAuth client (oauth.md §1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gephyr_core.config import Settings
from gephyr_core.errors import GephyrError


@dataclass(frozen=True)
class ProviderConfig:
    """One `[oauth.providers.<name>]` block plus the client credentials."""

    name: str
    client_id: str
    client_secret: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    revocation_endpoint: str
    jwks_uri: str
    issuers: tuple[str, ...]
    scopes: tuple[str, ...]
    extra_params: dict[str, str] = field(default_factory=dict)
    domain_claim: str = "hd"
    account_provider: str = "gemini"
    allowed_domains: tuple[str, ...] = ()
    flow_timeout_seconds: int = 600
    refresh_window_seconds: int = 300


def not_configured() -> GephyrError:
    return GephyrError(
        "OAuth is not configured: set oauth.client_id (or OAUTH_CLIENT_ID)",
        code="oauth.not_configured",
        status=400,
    )


def provider_config(settings: Settings, name: str | None = None, need_client: bool = True) -> ProviderConfig:
    """The provider `name` (default `oauth.provider`); `oauth.not_configured` without a client id."""
    name = name or str(settings.get("oauth.provider") or "google")
    block: dict[str, Any] = (settings.get("oauth.providers") or {}).get(name) or {}
    client_id = str(settings.get("oauth.client_id") or "").strip()
    if (need_client and not client_id) or not block:
        raise not_configured()
    domains = settings.get("oauth.allowed_domains") or []
    return ProviderConfig(
        name=name,
        client_id=client_id,
        client_secret=str(settings.get("oauth.client_secret") or ""),
        authorization_endpoint=str(block.get("authorization_endpoint") or ""),
        token_endpoint=str(block.get("token_endpoint") or ""),
        userinfo_endpoint=str(block.get("userinfo_endpoint") or ""),
        revocation_endpoint=str(block.get("revocation_endpoint") or ""),
        jwks_uri=str(block.get("jwks_uri") or ""),
        issuers=tuple(str(i) for i in block.get("issuers") or ()),
        scopes=tuple(str(s) for s in block.get("scopes") or ()),
        extra_params={str(k): str(v) for k, v in (block.get("extra_params") or {}).items()},
        domain_claim=str(block.get("domain_claim") or ""),
        account_provider=str(block.get("account_provider") or "gemini"),
        allowed_domains=tuple(str(d).strip().lower() for d in domains if str(d).strip()),
        flow_timeout_seconds=int(settings.get("oauth.flow_timeout_seconds") or 600),
        refresh_window_seconds=int(settings.get("oauth.refresh_window_seconds") or 0),
    )
