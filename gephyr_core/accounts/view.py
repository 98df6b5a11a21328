"""AccountResponse, credential fingerprints and hints, and account references."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlsplit

from gephyr_core.errors import BadRequest, GephyrError, NotFound
from gephyr_core.providers import PROVIDERS


def fingerprint(secret: str) -> str:
    """First 16 hex of SHA-256 of the plaintext secret (never shown)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def hint(secret: str) -> str:
    """`…` + the last 4 characters of the secret."""
    return "…" + secret[-4:] if secret else ""


def check_provider(provider: str | None) -> str:
    """A known provider name, or 400."""
    if provider not in PROVIDERS:
        raise BadRequest(f"unknown provider {provider!r}: use one of {', '.join(PROVIDERS)}")
    return provider


def normalise_base_url(url: str) -> str:
    """`http(s)://host[...]` without trailing `/`, scheme and host lower-cased; 400 otherwise."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        ok = parts.scheme.lower() in {"http", "https"} and bool(parts.hostname)
        _ = parts.port
    except ValueError:
        ok = False
    if not ok:
        raise BadRequest(f"invalid base URL {url!r}: expected http(s)://host[:port][/path]")
    rest = text.split("://", 1)[1]
    host, _, path = rest.partition("/")
    return f"{parts.scheme.lower()}://{host.lower()}" + (f"/{path}" if path else "").rstrip("/")


def routable(row: dict[str, Any]) -> bool:
    """Has a secret and is not disabled, proxy-disabled, forbidden or validation-blocked."""
    return bool(row.get("secret")) and not (
        row["disabled"] or row["proxy_disabled"] or row["forbidden"] or row["validation_blocked"]
    )


def account_response(
    row: dict[str, Any], current_id: str, profile: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The AccountResponse of accounts.md §5 (no secret, fingerprint or token)."""
    oauth = row["credential_kind"] == "oauth"
    return {
        "id": row["id"],
        "provider": row["provider"],
        "label": row["label"],
        "email": row.get("email"),
        "name": row.get("name"),
        "oauth_provider": row.get("oauth_provider"),
        "base_url": row["base_url"],
        "credential_kind": row["credential_kind"],
        "credential_hint": row.get("credential_hint") or None,
        "models": row["models"],
        "discovered_models": row["discovered_models"],
        "probe_model": row.get("probe_model"),
        "priority": row["priority"],
        "is_current": row["id"] == current_id,
        "disabled": row["disabled"],
        "disabled_reason": row.get("disabled_reason"),
        "disabled_at": row.get("disabled_at"),
        "proxy_disabled": row["proxy_disabled"],
        "proxy_disabled_reason": row.get("proxy_disabled_reason"),
        "proxy_disabled_at": row.get("proxy_disabled_at"),
        "forbidden": row["forbidden"],
        "forbidden_reason": row.get("forbidden_reason"),
        "forbidden_at": row.get("forbidden_at"),
        "validation_blocked": row["validation_blocked"],
        "validation_blocked_until": row.get("validation_blocked_until"),
        "validation_blocked_reason": row.get("validation_blocked_reason"),
        "protected_models": row["protected_models"],
        "quota": row.get("quota"),
        "header_profile": profile,
        "device_bound": profile is not None,
        "rate_limits": None,
        "health_score": None,
        "created_at": row["created_at"],
        "last_used": row.get("last_used") or 0,
        "token_expiry": row.get("token_expires_at") if oauth else None,
    }


def resolve_ref(accounts: list[dict[str, Any]], ref: str) -> dict[str, Any]:
    """Find one account by id, unique id prefix (≥ 6 chars), email or label.

    Nothing → 404; several → 400 listing them (the CLI maps that to exit 2).
    """
    ref = ref.strip()
    low = ref.lower()
    for acc in accounts:
        if acc["id"] == low:
            return acc
    tiers = [
        [a for a in accounts if len(low) >= 6 and a["id"].startswith(low)],
        [a for a in accounts if (a.get("email") or "").lower() == low],
        [a for a in accounts if (a.get("label") or "").lower() == low],
    ]
    for found in tiers:
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(f"{a['id']} ({a['label']})" for a in found)
            raise GephyrError(f"{ref!r} matches several accounts: {names}", code="bad_request")
    raise NotFound(f"no account matches {ref!r}")
