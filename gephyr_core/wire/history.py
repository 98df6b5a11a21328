"""Conversation hygiene shared by every encoder toward an upstream (protocols.md §4.1, §4.4, §4.5).

`normalize` builds the canonical message list from decoded turns (empties dropped, same-role
neighbours merged, tool results first). `prepare_history` makes that list safe to send:
tool-call ids rewritten deterministically, every call answered in the next user turn in call
order, orphan results turned into text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from gephyr_core.wire.canonical import (
    MediaPart,
    Message,
    Part,
    Role,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)
from gephyr_core.wire.ids import sanitize_history_id

MISSING_RESULT = "tool result missing"


def _keep(part: Part) -> bool:
    if isinstance(part, TextPart):
        return part.text != ""
    if isinstance(part, ThinkingPart):
        return bool(part.text) or part.signature is not None
    if isinstance(part, MediaPart):
        return bool(part.data or part.url)
    return True


def _results_first(parts: Sequence[Part]) -> tuple[Part, ...]:
    results = [p for p in parts if isinstance(p, ToolResultPart)]
    return (*results, *(p for p in parts if not isinstance(p, ToolResultPart)))


def normalize(turns: Iterable[tuple[Role, Sequence[Part]]]) -> tuple[Message, ...]:
    """Drop empty parts and messages, merge same-role neighbours, put results first."""
    out: list[Message] = []
    for role, parts in turns:
        kept = [p for p in parts if _keep(p)]
        if not kept:
            continue
        if out and out[-1].role == role:
            kept = [*out[-1].parts, *kept]
            out.pop()
        out.append(Message(role, _results_first(kept) if role == "user" else tuple(kept)))
    return tuple(out)


def result_text(result: ToolResultPart) -> str:
    return result.text


def _unique(base: str, seen: Counter[str], assigned: set[str]) -> str:
    """`base` the first time, then `<base>_<k>` (cut to stay within 64 characters)."""
    while True:
        seen[base] += 1
        k = seen[base]
        new = base if k == 1 else f"{base[: 64 - len(str(k)) - 1]}_{k}"
        if new not in assigned:
            assigned.add(new)
            return new


def _rewrite_ids(messages: Sequence[Message]) -> list[Message]:
    """Invalid ids sanitised; the k-th repeat of an id becomes `<id>_<k>` with its result."""
    seen: Counter[str] = Counter()
    assigned: set[str] = set()
    out: list[Message] = []
    pending: dict[str, list[str]] = {}
    for message in messages:
        parts: list[Part] = []
        if message.role == "assistant":
            pending = {}
            for part in message.parts:
                if isinstance(part, ToolCallPart):
                    base = sanitize_history_id(part.id)
                    new = _unique(base, seen, assigned)
                    pending.setdefault(part.id, []).append(new)
                    part = ToolCallPart(new, part.name, part.arguments, part.signature)
                parts.append(part)
        else:
            for part in message.parts:
                if isinstance(part, ToolResultPart):
                    queue = pending.get(part.call_id)
                    new = queue.pop(0) if queue else sanitize_history_id(part.call_id)
                    part = ToolResultPart(new, part.name, part.content, part.is_error)
                parts.append(part)
            pending = {}
        out.append(Message(message.role, tuple(parts)))
    return out


def _orphan_text(result: ToolResultPart) -> TextPart:
    return TextPart(f"Result of tool call {result.call_id}: {result.text}")


def _pair(calls: list[ToolCallPart], user: Message | None) -> Message:
    """The user turn after `calls`: one result per call in call order, then everything else."""
    parts = list(user.parts) if user else []
    results = [p for p in parts if isinstance(p, ToolResultPart)]
    others = [p for p in parts if not isinstance(p, ToolResultPart)]
    paired: list[Part] = []
    for call in calls:
        match = next((r for r in results if r.call_id == call.id), None)
        if match is None:
            paired.append(ToolResultPart(call.id, call.name, (TextPart(MISSING_RESULT),), True))
            continue
        results.remove(match)
        paired.append(ToolResultPart(call.id, call.name, match.content, match.is_error))
    orphans: list[Part] = [_orphan_text(r) for r in results]
    return Message("user", (*paired, *orphans, *others))


def prepare_history(messages: Sequence[Message]) -> tuple[Message, ...]:
    """Deterministic, provider-neutral history: valid unique ids, every call answered."""
    rewritten = _rewrite_ids(normalize((m.role, m.parts) for m in messages))
    out: list[Message] = []
    i = 0
    while i < len(rewritten):
        message = rewritten[i]
        calls = [p for p in message.parts if isinstance(p, ToolCallPart)]
        if message.role == "assistant" and calls:
            out.append(message)
            following = rewritten[i + 1] if i + 1 < len(rewritten) else None
            user = following if following is not None and following.role == "user" else None
            out.append(_pair(calls, user))
            i += 2 if user is not None else 1
            continue
        if message.role == "user" and any(isinstance(p, ToolResultPart) for p in message.parts):
            parts = [_orphan_text(p) if isinstance(p, ToolResultPart) else p for p in message.parts]
            message = Message("user", tuple(parts))
        out.append(message)
        i += 1
    return normalize((m.role, m.parts) for m in out)


def split_system_json(system: tuple[str, ...], extra: str | None) -> tuple[str, ...]:
    """System texts with an instruction appended (e.g. JSON-object mode toward anthropic)."""
    texts = tuple(t for t in system if t)
    return (*texts, extra) if extra else texts


def strip_thinking(messages: Sequence[Message]) -> tuple[Message, ...]:
    """The signature-error retry (§4.7): all thinking dropped, call signatures removed."""
    out: list[tuple[Role, list[Part]]] = []
    for message in messages:
        parts: list[Part] = []
        for part in message.parts:
            if isinstance(part, ThinkingPart):
                continue
            if isinstance(part, ToolCallPart) and part.signature is not None:
                part = ToolCallPart(part.id, part.name, part.arguments, None)
            parts.append(part)
        out.append((message.role, parts))
    return normalize(out)
