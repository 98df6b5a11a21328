"""Route resolution and model normalisation (routing.md §2–3)."""

from __future__ import annotations

from typing import Any

import pytest

from gephyr_core.relay.routes import RouteError, normalise_model, request_type, resolve

DEFAULTS = {
    "openai": ["gpt-*", "o1*", "o3*", "o4*", "chatgpt-*"],
    "anthropic": ["claude-*"],
    "gemini": ["gemini-*"],
}


def acc(id: str, provider: str, models: list[str] | None = None, **state: Any) -> dict[str, Any]:
    base = {"disabled": False, "proxy_disabled": False, "forbidden": False, "validation_blocked": False}
    return {
        "id": id,
        "label": id,
        "provider": provider,
        "models": models or [],
        "secret": "enc:x",
        **base,
        **state,
    }


ACCOUNTS = [
    acc("o1", "openai"),
    acc("a1", "anthropic"),
    acc("g1", "gemini"),
    acc("local", "openai", ["llama-*", "qwen*"]),
]


@pytest.mark.parametrize(
    ("mapping", "model", "upstream", "rule", "ids"),
    [
        ({}, "gpt-4o", "gpt-4o", "inferred:openai", ["o1"]),
        ({}, "models/gemini-2.5-pro", "gemini-2.5-pro", "inferred:gemini", ["g1"]),
        ({}, "llama-3-70b", "llama-3-70b", "any", ["local"]),
        ({"fast": "anthropic:claude-haiku"}, "fast", "claude-haiku", "exact:fast", ["a1"]),
        (
            {"claude-*": "gemini-2.5-pro", "claude-3*": "gpt-4o"},
            "claude-3-opus",
            "gpt-4o",
            "wildcard:claude-3*",
            ["o1"],
        ),
        ({"*": "qwen-max"}, "anything", "qwen-max", "wildcard:*", ["local"]),
        ({"x": {"accounts": ["a1", "G1"]}}, "x", "x", "exact:x", ["a1", "g1"]),
        ({"x": {"model": "my-model", "provider": "openai"}}, "x", "my-model", "exact:x", []),
        ({}, "unknown-model", "unknown-model", "any", []),
        ({"CLAUDE": "gpt-4o"}, "claude", "claude", "any", []),
    ],
)
def test_resolution(mapping: dict[str, Any], model: str, upstream: str, rule: str, ids: list[str]) -> None:
    route = resolve(mapping, ACCOUNTS, model, DEFAULTS)
    assert (route.upstream_model, route.matched_rule) == (upstream, rule)
    assert [a["id"] for a in route.candidates] == ids


def test_specificity_ties_go_to_the_smallest_key() -> None:
    route = resolve({"a*c": "gpt-1", "ab*": "gpt-2"}, ACCOUNTS, "abc", DEFAULTS)
    assert route.matched_rule == "wildcard:a*c"


def test_routable_excludes_disabled() -> None:
    accounts = [acc("o1", "openai", disabled=True), acc("o2", "openai", proxy_disabled=True)]
    route = resolve({}, accounts, "gpt-4o", DEFAULTS)
    assert len(route.candidates) == 2 and route.routable == []


@pytest.mark.parametrize("bad", ["", "   ", None, 5])
def test_empty_model_is_refused(bad: Any) -> None:
    with pytest.raises(RouteError):
        resolve({}, ACCOUNTS, bad, DEFAULTS)


@pytest.mark.parametrize(
    ("model", "normalised"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gemini-2.5-pro-preview-05-06", "gemini-2.5-pro-preview"),
        ("anthropic:Claude-3-5-Haiku-Latest", "claude-3-5-haiku"),
        ("models/gemini-2.0-flash", "gemini-2.0-flash"),
    ],
)
def test_normalised_model(model: str, normalised: str) -> None:
    assert normalise_model(model) == normalised


def test_request_type() -> None:
    assert request_type("dall-e-3", None) == "image_gen"
    assert request_type("gpt-4o", [{"type": "web_search_preview"}]) == "web_search"
    assert request_type("gemini-2.5", [{"functionDeclarations": [{"name": "google_search"}]}]) == "web_search"
    assert request_type("gpt-4o", [{"type": "function", "function": {"name": "f"}}]) == "agent"
