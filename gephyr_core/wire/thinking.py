"""Thinking configuration between formats (protocols.md §4.6)."""

from __future__ import annotations

from typing import Any

from gephyr_core.wire.canonical import Effort, ThinkingConfig

EFFORT_BUDGETS: dict[Effort, int] = {
    "minimal": 128,
    "low": 1024,
    "medium": 2048,
    "high": 4096,
    "xhigh": 8192,
    "max": 16384,
}
_OPENAI_EFFORTS: tuple[Effort, ...] = ("minimal", "low", "medium", "high")


def as_effort(value: object) -> Effort | None:
    for effort in EFFORT_BUDGETS:
        if value == effort:
            return effort
    return None


def effort_from_budget(budget: int) -> Effort:
    """The smallest effort whose budget is at least `budget`, at most `high`."""
    for effort in _OPENAI_EFFORTS:
        if EFFORT_BUDGETS[effort] >= budget:
            return effort
    return "high"


def budget_of(cfg: ThinkingConfig) -> int:
    """The budget for "on": given, else from the effort, else medium."""
    if cfg.budget_tokens is not None:
        return cfg.budget_tokens
    return EFFORT_BUDGETS[cfg.effort or "medium"]


def openai_effort(cfg: ThinkingConfig) -> Effort | None:
    """`reasoning_effort` toward openai: omitted unless on with an effort or a budget."""
    if cfg.mode != "on":
        return None
    if cfg.effort is not None:
        return cfg.effort if cfg.effort in _OPENAI_EFFORTS else "high"
    if cfg.budget_tokens is not None:
        return effort_from_budget(cfg.budget_tokens)
    return None


def from_openai_effort(value: object) -> ThinkingConfig:
    """Chat `reasoning_effort` / Responses `reasoning.effort` from a client."""
    if value is None:
        return ThinkingConfig()
    if value == "none":
        return ThinkingConfig("off")
    return ThinkingConfig("on", effort=as_effort(value) or "medium")


def anthropic_thinking(cfg: ThinkingConfig, max_tokens: int) -> tuple[dict[str, Any] | None, int]:
    """(`thinking` value or None, possibly raised `max_tokens`) toward anthropic."""
    if cfg.mode != "on":
        return None, max_tokens
    if max_tokens <= 1024:
        return {"type": "enabled", "budget_tokens": 1024}, 1024 + max_tokens
    budget = min(max(budget_of(cfg), 1024), max_tokens - 1)
    return {"type": "enabled", "budget_tokens": budget}, max_tokens


def gemini_thinking(cfg: ThinkingConfig, model: str) -> dict[str, Any] | None:
    """`generationConfig.thinkingConfig` toward gemini, or None when unset."""
    lowered = model.lower()
    if cfg.mode == "unset":
        return None
    if cfg.mode == "off":
        return {"thinkingBudget": 128 if "-pro" in lowered else 0}
    if cfg.effort is not None and cfg.budget_tokens is None and lowered.startswith("gemini-3"):
        level = "low" if EFFORT_BUDGETS[cfg.effort] <= EFFORT_BUDGETS["medium"] else "high"
        return {"thinkingLevel": level, "includeThoughts": True}
    if cfg.effort is None and cfg.budget_tokens is None:
        return {"thinkingBudget": -1, "includeThoughts": True}
    budget = min(max(budget_of(cfg), 128), 24576)
    return {"thinkingBudget": budget, "includeThoughts": True}


def from_gemini_thinking(value: object) -> ThinkingConfig:
    """A gemini client's `thinkingConfig`."""
    if not isinstance(value, dict):
        return ThinkingConfig(include_thoughts=False)
    include = bool(value.get("includeThoughts", value.get("include_thoughts", False)))
    level = value.get("thinkingLevel", value.get("thinking_level"))
    budget = value.get("thinkingBudget", value.get("thinking_budget"))
    if isinstance(level, str):
        return ThinkingConfig(
            "on", effort=as_effort(level.lower()) or "medium", include_thoughts=include
        )
    if isinstance(budget, int) and not isinstance(budget, bool):
        if budget == 0:
            return ThinkingConfig("off", include_thoughts=include)
        if budget < 0:
            return ThinkingConfig("on", include_thoughts=include)
        return ThinkingConfig("on", budget_tokens=budget, include_thoughts=include)
    return ThinkingConfig(include_thoughts=include)
