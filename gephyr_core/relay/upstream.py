"""Upstream requests: endpoint URLs and the outbound header policy (protocols.md §1.3a)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from gephyr_core import __version__
from gephyr_core.providers import auth_headers

NEVER_FORWARDED = frozenset(
    {
        "authorization",
        "x-api-key",
        "x-goog-api-key",
        "cookie",
        "host",
        "forwarded",
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "content-type",
        "accept-encoding",
    }
)


@dataclass(frozen=True)
class Credential:
    """A routable account with its decrypted secret (never logged)."""

    account: Mapping[str, Any]
    secret: str

    @property
    def provider(self) -> str:
        return str(self.account["provider"])

    @property
    def base_url(self) -> str:
        return str(self.account["base_url"]).rstrip("/")


def endpoint(cred: Credential, model: str, action: str, stream: bool) -> str:
    """URL of a generation (`generate`) or counting (`count`) call for this account."""
    base = cred.base_url
    if cred.provider == "openai":
        return f"{base}/chat/completions"
    if cred.provider == "anthropic":
        return f"{base}/v1/messages/count_tokens" if action == "count" else f"{base}/v1/messages"
    name = quote(model, safe="")
    if action == "count":
        return f"{base}/v1beta/models/{name}:countTokens"
    if stream:
        return f"{base}/v1beta/models/{name}:streamGenerateContent?alt=sse"
    return f"{base}/v1beta/models/{name}:generateContent"


def outbound_headers(
    cred: Credential,
    client_headers: Mapping[str, str],
    passthrough: Mapping[str, Any],
    anthropic_version: str,
    fast_path: bool,
    profile: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every header sent upstream, decided in one place."""
    kind = str(cred.account.get("credential_kind") or "api_key")
    headers = {
        "user-agent": f"gephyr/{__version__}",
        "content-type": "application/json",
        "accept-encoding": "gzip",
    }
    allowed = [str(h).lower() for h in passthrough.get(cred.provider, []) or []]
    for name in allowed:
        if name in NEVER_FORWARDED or name.startswith(("x-forwarded-", "x-gephyr-")):
            continue
        if cred.provider == "anthropic" and name in {"anthropic-beta", "anthropic-version"} and not fast_path:
            continue
        value = client_headers.get(name)
        if value is not None:
            headers[name] = value
    credential = auth_headers(cred.provider, kind, cred.secret, anthropic_version)
    if cred.provider == "anthropic" and "anthropic-version" in headers:
        credential.pop("anthropic-version")
    headers.update(credential)
    for name, value in (profile or {}).items():
        low = name.lower()
        if low in credential:
            continue
        if low == "anthropic-beta" and "anthropic-beta" in headers:
            merged = [*headers["anthropic-beta"].split(","), *value.split(",")]
            headers[low] = ",".join(dict.fromkeys(v.strip() for v in merged if v.strip()))
        else:
            headers[low] = value
    return headers
