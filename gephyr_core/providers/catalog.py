"""Per-provider facts: credential headers and the list-models call (accounts.md §1)."""

from __future__ import annotations

from typing import Any

PROVIDERS = ("openai", "anthropic", "gemini")


def auth_headers(provider: str, kind: str, secret: str, anthropic_version: str) -> dict[str, str]:
    """The credential headers an upstream call of this account carries."""
    if provider == "openai":
        return {"authorization": f"Bearer {secret}"}
    if provider == "anthropic":
        return {"x-api-key": secret, "anthropic-version": anthropic_version}
    if kind == "oauth":
        return {"authorization": f"Bearer {secret}"}
    return {"x-goog-api-key": secret}


def list_models_url(provider: str, base_url: str) -> str:
    """URL of the provider's list-models call."""
    base = base_url.rstrip("/")
    return {"openai": f"{base}/models", "anthropic": f"{base}/v1/models"}.get(
        provider, f"{base}/v1beta/models"
    )


def parse_model_ids(provider: str, body: Any) -> list[str]:
    """Model ids from a list-models response body."""
    if not isinstance(body, dict):
        return []
    if provider == "gemini":
        items = body.get("models") or []
        return [
            str(m["name"]).removeprefix("models/") for m in items if isinstance(m, dict) and m.get("name")
        ]
    items = body.get("data") or []
    return [str(m["id"]) for m in items if isinstance(m, dict) and m.get("id")]
