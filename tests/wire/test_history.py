"""History hygiene: ids, pairing, empties (§4.1, §4.4, §4.5; invariants 1, 3, 4)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gephyr_core.wire.canonical import (
    Message,
    Part,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from gephyr_core.wire.history import MISSING_RESULT, normalize, prepare_history, strip_thinking
from gephyr_core.wire.ids import TOOL_ID, sha8


def call(i: str, name: str = "fn") -> ToolCallPart:
    return ToolCallPart(i, name, {"x": 1})


def result(i: str, text: str = "ok") -> ToolResultPart:
    return ToolResultPart(i, "", (TextPart(text),))


def test_normalize_drops_empties_and_merges() -> None:
    turns: list[tuple[str, list[Part]]] = [
        ("user", [TextPart(""), TextPart("a")]),
        ("user", [result("c1"), TextPart("b")]),
        ("assistant", [TextPart("")]),
        ("assistant", [ThinkingPart("", None)]),
        ("user", []),
    ]
    assert normalize(turns) == (  # type: ignore[arg-type]
        Message("user", (result("c1"), TextPart("a"), TextPart("b"))),
    )


def test_prepare_history_rewrites_invalid_and_repeated_ids() -> None:
    history = [
        Message("user", (TextPart("go"),)),
        Message("assistant", (call("functions.Bash:0", "Bash"),)),
        Message("user", (result("functions.Bash:0"),)),
        Message("assistant", (call("call_0"), call("call_0"))),
        Message("user", (result("call_0", "first"), result("call_0", "second"))),
        Message("assistant", (call("call_0"),)),
        Message("user", (result("call_0", "third"),)),
    ]
    fixed = f"functions_Bash_0_{sha8('functions.Bash:0')}"
    out = prepare_history(history)
    assert out[1].parts == (ToolCallPart(fixed, "Bash", {"x": 1}),)
    assert out[2].parts == (ToolResultPart(fixed, "Bash", (TextPart("ok"),)),)
    assert [p.id for p in out[3].parts] == ["call_0", "call_0_2"]  # type: ignore[union-attr]
    assert [(p.call_id, p.text) for p in out[4].parts] == [  # type: ignore[union-attr]
        ("call_0", "first"),
        ("call_0_2", "second"),
    ]
    assert [p.id for p in out[5].parts] == ["call_0_3"]  # type: ignore[union-attr]
    assert out[6].parts[0].call_id == "call_0_3"  # type: ignore[union-attr]
    assert prepare_history(history) == out  # deterministic


def test_missing_results_orphans_and_order() -> None:
    history = [
        Message("assistant", (call("a"), call("b"), call("c"))),
        Message(
            "user", (TextPart("note"), result("c", "C"), result("zz", "lost"), result("a", "A"))
        ),
        Message("assistant", (call("d"),)),
    ]
    out = prepare_history(history)
    user = out[1].parts
    assert [type(p).__name__ for p in user] == [
        "ToolResultPart",
        "ToolResultPart",
        "ToolResultPart",
        "TextPart",
        "TextPart",
    ]
    assert [(p.call_id, p.text, p.is_error) for p in user[:3]] == [  # type: ignore[union-attr]
        ("a", "A", False),
        ("b", MISSING_RESULT, True),
        ("c", "C", False),
    ]
    assert user[3] == TextPart("Result of tool call zz: lost")
    assert user[4] == TextPart("note")
    assert out[3] == Message(
        "user", (ToolResultPart("d", "fn", (TextPart(MISSING_RESULT),), True),)
    )


def test_result_without_preceding_call_becomes_text() -> None:
    out = prepare_history([Message("user", (result("x1", "data"), TextPart("hi")))])
    assert out == (Message("user", (TextPart("Result of tool call x1: data"), TextPart("hi"))),)


def test_strip_thinking() -> None:
    from gephyr_core.wire.canonical import Signature

    sig = Signature("gemini", "G")
    out = strip_thinking(
        [Message("assistant", (ThinkingPart("t", sig), ToolCallPart("c", "f", {}, sig)))]
    )
    assert out == (Message("assistant", (ToolCallPart("c", "f", {}, None),)),)


ids = st.sampled_from(["call_0", "a", "functions.Bash:0", "", "x y", "toolu_1", "b" * 70])
texts = st.sampled_from(["", " ", "hello"])


@st.composite
def histories(draw: st.DrawFn) -> list[Message]:
    out: list[Message] = []
    for turn in range(draw(st.integers(0, 6))):
        if turn % 2 == 0:
            parts: list[Part] = [result(i) for i in draw(st.lists(ids, max_size=3))]
            parts += [TextPart(t) for t in draw(st.lists(texts, max_size=2))]
            out.append(Message("user", tuple(parts)))
        else:
            calls = [call(i) for i in draw(st.lists(ids, max_size=3))]
            out.append(
                Message(
                    "assistant", (*[TextPart(t) for t in draw(st.lists(texts, max_size=2))], *calls)
                )
            )
    return out


@given(histories())
def test_invariants_1_3_4_on_any_history(history: list[Message]) -> None:
    out = prepare_history(history)
    assert out == prepare_history(history)
    seen: set[str] = set()
    for i, message in enumerate(out):
        assert message.parts, "part-less message"
        assert all(p.text for p in message.parts if isinstance(p, TextPart)), "empty text"
        if i:
            assert out[i - 1].role != message.role, "roles alternate"
        calls = [p for p in message.parts if isinstance(p, ToolCallPart)]
        for c in calls:
            assert TOOL_ID.match(c.id) and c.id not in seen
            seen.add(c.id)
        if calls:
            nxt = out[i + 1]
            results = [p for p in nxt.parts if isinstance(p, ToolResultPart)]
            assert nxt.role == "user"
            assert [r.call_id for r in results] == [c.id for c in calls]
            assert nxt.parts[: len(results)] == tuple(results)
        elif message.role == "user" and not (
            i and any(isinstance(p, ToolCallPart) for p in out[i - 1].parts)
        ):
            assert not any(isinstance(p, ToolResultPart) for p in message.parts), "orphan result"
