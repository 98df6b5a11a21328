"""Thinking configuration (§4.6) and the token estimate (§7)."""

from __future__ import annotations

import pytest

from gephyr_core.wire.canonical import (
    MediaPart,
    Message,
    Request,
    TextPart,
    ThinkingConfig,
    ThinkingPart,
    ToolCallPart,
    ToolSpec,
)
from gephyr_core.wire.thinking import (
    anthropic_thinking,
    effort_from_budget,
    from_gemini_thinking,
    from_openai_effort,
    gemini_thinking,
    openai_effort,
)
from gephyr_core.wire.tokens import estimate_tokens


@pytest.mark.parametrize(
    ("budget", "effort"),
    [(1, "minimal"), (128, "minimal"), (129, "low"), (2048, "medium"), (5000, "high")],
)
def test_effort_from_budget(budget: int, effort: str) -> None:
    assert effort_from_budget(budget) == effort


def test_openai_effort_table() -> None:
    assert openai_effort(ThinkingConfig("off")) is None
    assert openai_effort(ThinkingConfig()) is None
    assert openai_effort(ThinkingConfig("on")) is None
    assert openai_effort(ThinkingConfig("on", effort="max")) == "high"
    assert openai_effort(ThinkingConfig("on", effort="minimal")) == "minimal"
    assert openai_effort(ThinkingConfig("on", budget_tokens=3000)) == "high"
    assert from_openai_effort("none") == ThinkingConfig("off")
    assert from_openai_effort("low") == ThinkingConfig("on", effort="low")


def test_anthropic_thinking_budgets() -> None:
    assert anthropic_thinking(ThinkingConfig("off"), 4096) == (None, 4096)
    assert anthropic_thinking(ThinkingConfig("on", effort="high"), 8192) == (
        {"type": "enabled", "budget_tokens": 4096},
        8192,
    )
    assert anthropic_thinking(ThinkingConfig("on"), 8192)[0] == {
        "type": "enabled",
        "budget_tokens": 2048,
    }
    assert anthropic_thinking(ThinkingConfig("on", budget_tokens=10), 8192)[0] == {
        "type": "enabled",
        "budget_tokens": 1024,
    }
    assert anthropic_thinking(ThinkingConfig("on", budget_tokens=9000), 4000)[0] == {
        "type": "enabled",
        "budget_tokens": 3999,
    }
    assert anthropic_thinking(ThinkingConfig("on", effort="max"), 1000) == (
        {"type": "enabled", "budget_tokens": 1024},
        2024,
    )


def test_gemini_thinking_table() -> None:
    assert gemini_thinking(ThinkingConfig(), "gemini-2.5-flash") is None
    assert gemini_thinking(ThinkingConfig("off"), "gemini-2.5-flash") == {"thinkingBudget": 0}
    assert gemini_thinking(ThinkingConfig("off"), "gemini-2.5-pro") == {"thinkingBudget": 128}
    assert gemini_thinking(ThinkingConfig("on"), "gemini-2.5-flash") == {
        "thinkingBudget": -1,
        "includeThoughts": True,
    }
    assert gemini_thinking(ThinkingConfig("on", budget_tokens=99999), "gemini-2.5-flash") == {
        "thinkingBudget": 24576,
        "includeThoughts": True,
    }
    assert gemini_thinking(ThinkingConfig("on", effort="medium"), "gemini-3-pro") == {
        "thinkingLevel": "low",
        "includeThoughts": True,
    }
    assert (
        gemini_thinking(ThinkingConfig("on", effort="xhigh"), "gemini-3-pro")["thinkingLevel"]
        == "high"
    )  # type: ignore[index]


def test_from_gemini_thinking() -> None:
    assert from_gemini_thinking(None) == ThinkingConfig(include_thoughts=False)
    assert from_gemini_thinking({"thinkingBudget": 0}) == ThinkingConfig(
        "off", include_thoughts=False
    )
    assert from_gemini_thinking(
        {"thinking_budget": -1, "include_thoughts": True}
    ) == ThinkingConfig("on", include_thoughts=True)
    assert from_gemini_thinking({"thinkingLevel": "HIGH"}) == ThinkingConfig(
        "on", effort="high", include_thoughts=False
    )


def test_estimate_tokens_golden() -> None:
    request = Request(
        model="m",
        system=("abcd",),  # 4 ascii
        messages=(
            Message("user", (TextPart("héllo"), MediaPart("image/png", "AAAA"))),  # 4 ascii + 1
            Message(
                "assistant",
                (ThinkingPart("not counted"), ToolCallPart("c", "fn", {"a": 1})),  # 2 + 7 ascii
            ),
        ),
        tools=(ToolSpec("t", "d", {"type": "object"}),),
    )
    tool_json = '{"name":"t","description":"d","schema":{"type":"object"}}'
    ascii_chars = 4 + 4 + 2 + 7 + len(tool_json)
    expected = -(-ascii_chars // 4) + 1 + 3 * 2 + 1600
    assert estimate_tokens(request) == expected
