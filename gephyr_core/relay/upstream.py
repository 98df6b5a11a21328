"""Upstream requests: endpoint URLs and the outbound header policy (protocols.md §1.3a)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from gephyr_core import __version__
from gephyr_core.providers import auth_headers

log = logging.getLogger("gephyr.relay.upstream")

#: credential headers: set only from the account, never from a client or a header profile
CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key"})
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
#: client headers never copied upstream, even when listed in passthrough_headers
NEVER_FORWARDED = (
    CREDENTIAL_HEADERS
    | HOP_BY_HOP
    | {"cookie", "host", "forwarded", "content-length", "content-type", "accept-encoding"}
)
NEVER_FORWARDED_PREFIXES = ("x-forwarded-", "x-gephyr-")
#: headers whose names contain one of these are logged as [redacted] (protocols.md §1.3a)
REDACTED_PATTERNS = ("key", "token", "secret", "auth")
REDACTED = "[redacted]"


def never_forwarded(name: str) -> bool:
    """Whether a (lower-case) client header name is blocked by the policy."""
    return name in NEVER_FORWARDED or name.startswith(NEVER_FORWARDED_PREFIXES)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Outbound headers fit for a debug log: credentials and key/token/secret/auth names redacted."""
    return {
        name: REDACTED
        if name.lower() in CREDENTIAL_HEADERS or any(p in name.lower() for p in REDACTED_PATTERNS)
        else value
        for name, value in headers.items()
    }


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


def _passthrough(
    provider: str, client_headers: Mapping[str, str], passthrough: Mapping[str, Any], fast_path: bool
) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in (str(h).lower() for h in passthrough.get(provider, []) or []):
        if never_forwarded(name):
            continue
        if provider == "anthropic" and name in {"anthropic-beta", "anthropic-version"} and not fast_path:
            continue  # the translated path sends the betas and version it needs itself
        value = client_headers.get(name)
        if value is not None:
            out[name] = value
    return out


def _apply_profile(
    headers: dict[str, str], profile: Mapping[str, str], credential: Mapping[str, str]
) -> None:
    for name, value in profile.items():
        low = name.lower()
        if low in CREDENTIAL_HEADERS or low in credential or never_forwarded(low):
            continue  # a profile never replaces the credential (and validation refuses these names)
        if low == "anthropic-beta" and "anthropic-beta" in headers:
            merged = [*headers["anthropic-beta"].split(","), *value.split(",")]
            headers[low] = ",".join(dict.fromkeys(v.strip() for v in merged if v.strip()))
        else:
            headers[low] = value


def outbound_headers(
    cred: Credential,
    client_headers: Mapping[str, str],
    passthrough: Mapping[str, Any],
    anthropic_version: str,
    fast_path: bool,
    profile: Mapping[str, str] | None = None,
    log_headers: bool = False,
) -> dict[str, str]:
    """Every header sent upstream, decided in one place (protocols.md §1.3a).

    Order: Gephyr's own headers, the allowlisted client headers, the account's credential,
    then the account's header profile (which wins over all but the credential).
    """
    kind = str(cred.account.get("credential_kind") or "api_key")
    headers = {
        "user-agent": f"gephyr/{__version__}",
        "content-type": "application/json",
        "accept-encoding": "gzip",
    }
    headers.update(_passthrough(cred.provider, client_headers, passthrough, fast_path))
    credential = auth_headers(cred.provider, kind, cred.secret, anthropic_version)
    if cred.provider == "anthropic" and "anthropic-version" in headers:
        credential.pop("anthropic-version")
    headers.update(credential)
    _apply_profile(headers, profile or {}, credential)
    if log_headers:  # debug_logging.log_outbound_headers
        log.info("outbound headers to %s: %s", cred.provider, redact_headers(headers))
    return headers


def describe_policy(passthrough: Mapping[str, Any], debug_headers: bool, profiles: int) -> dict[str, Any]:
    """The effective policy, as `GET /api/proxy/outbound-policy` shows it."""
    credentials = {
        "openai": ["authorization"],
        "anthropic": ["x-api-key", "anthropic-version"],
        "gemini": ["x-goog-api-key", "authorization (oauth accounts)"],
    }
    blocked = [*sorted(NEVER_FORWARDED), *(f"{p}*" for p in NEVER_FORWARDED_PREFIXES)]
    providers = {
        provider: {
            "always_set": [*credential, "user-agent", "content-type", "accept-encoding"],
            "passthrough_allow": sorted(
                name
                for name in {str(h).lower() for h in passthrough.get(provider, []) or []}
                if not never_forwarded(name)
            ),
            "never_forwarded": blocked,
            "user_agent": f"gephyr/{__version__}",
        }
        for provider, credential in credentials.items()
    }
    return {
        "providers": providers,
        "header_profiles": {"accounts_with_profile": profiles},
        "debug_redaction": {
            "enabled": debug_headers,
            "redacted_patterns": [*REDACTED_PATTERNS, *sorted(CREDENTIAL_HEADERS)],
        },
    }
