"""Catalogue answers (routing.md §4): the model set in OpenAI, Anthropic and Gemini shapes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gephyr_core.accounts.view import routable
from gephyr_core.relay.routes import Route, normalise_model, request_type

OWNER = {"openai": "openai", "anthropic": "anthropic", "gemini": "google"}


def model_set(mapping: Mapping[str, Any], accounts: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """(id, owned_by) for exact mapping keys and every routable account's concrete models."""
    owners: dict[str, str] = {}
    for acc in accounts:
        if not routable(acc):
            continue
        for model in [*acc.get("models", []), *acc.get("discovered_models", [])]:
            if "*" not in model and "?" not in model:
                owners.setdefault(model, OWNER.get(acc["provider"], acc["provider"]))
    for key in mapping:
        if "*" not in key:
            owners.setdefault(key, "gephyr")
    return sorted(owners.items())


def openai_list(models: list[tuple[str, str]]) -> dict[str, Any]:
    return {"object": "list", "data": [openai_model(m, o) for m, o in models]}


def openai_model(model: str, owner: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": 1700000000, "owned_by": owner}


def anthropic_list(models: list[tuple[str, str]]) -> dict[str, Any]:
    data = [
        {"type": "model", "id": m, "display_name": m, "created_at": "2023-11-14T22:13:20Z"} for m, _ in models
    ]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }


def gemini_entry(model: str) -> dict[str, Any]:
    return {
        "name": f"models/{model}",
        "version": "001",
        "displayName": model,
        "description": "",
        "inputTokenLimit": 128000,
        "outputTokenLimit": 8192,
        "supportedGenerationMethods": ["generateContent", "countTokens"],
        "temperature": 1.0,
        "topP": 0.95,
        "topK": 64,
    }


def gemini_list(models: list[tuple[str, str]]) -> dict[str, Any]:
    return {"models": [gemini_entry(m) for m, _ in models]}


def detect(route: Route, tools: Any) -> dict[str, Any]:
    """What the relay would do with a model: `POST /v1/models/detect`."""
    kind = request_type(route.upstream_model, tools)
    provider = route.provider or (route.candidates[0]["provider"] if route.candidates else None)
    return {
        "model": route.client_model,
        "mapped_model": route.upstream_model,
        "provider": provider,
        "normalised_model": normalise_model(route.upstream_model),
        "type": kind,
        "features": {"has_web_search": kind == "web_search", "is_image_gen": kind == "image_gen"},
        "matched_rule": route.matched_rule,
        "accounts": [{"id": a["id"], "label": a["label"], "routable": routable(a)} for a in route.candidates],
    }
