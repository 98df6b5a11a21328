"""Credential verification and model discovery through the provider's list-models call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gephyr_core.errors import CredentialInvalid, UpstreamError, UpstreamUnreachable
from gephyr_core.globs import matches_any
from gephyr_core.providers import auth_headers, list_models_url, parse_model_ids

if TYPE_CHECKING:
    from gephyr_core.pool.egress import Send


@dataclass
class ListModelsResult:
    """Outcome of a list-models call."""

    models: list[str]


def list_models(
    provider: str,
    kind: str,
    base_url: str,
    secret: str,
    anthropic_version: str,
    timeout: float = 15.0,
    profile: dict[str, str] | None = None,
    send: Send | None = None,
) -> ListModelsResult:
    """Call list-models (on the account's egress route `send`); 401/403 → credential_invalid."""
    import httpx

    from gephyr_core import __version__

    headers = auth_headers(provider, kind, secret, anthropic_version)
    headers["user-agent"] = f"gephyr/{__version__}"
    for name, value in (profile or {}).items():  # the account's header profile, never over the credential
        if name.lower() not in headers or name.lower() == "user-agent":
            headers[name.lower()] = value
    url = list_models_url(provider, base_url)
    try:
        if send is not None:
            resp = send("GET", url, timeout=timeout, headers=headers)
        else:
            with httpx.Client(timeout=timeout) as client:
                resp = client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        raise UpstreamUnreachable(f"cannot reach {provider}: {type(exc).__name__}") from exc
    if resp.status_code in (401, 403):
        raise CredentialInvalid(f"{provider} rejected the credential (HTTP {resp.status_code})")
    if resp.status_code >= 300:
        raise UpstreamError(f"{provider} list-models answered HTTP {resp.status_code}")
    try:
        body = resp.json()
    except ValueError as exc:
        raise UpstreamError(f"{provider} list-models returned invalid JSON") from exc
    return ListModelsResult(parse_model_ids(provider, body))


def filter_models(models: list[str], patterns: list[str]) -> list[str]:
    """Discovered models this account serves (empty patterns = all)."""
    return [m for m in models if not patterns or matches_any(patterns, m)]
