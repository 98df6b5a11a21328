"""The OpenAI SDK adapters of the relay matrix: chat, legacy completions and responses."""

from __future__ import annotations

import json
from typing import Any

import openai

from tests.relay.matrix_support import DATA_URL, TOOLS, Answer, Ask, Call


def _extra(obj: Any, name: str) -> Any:
    return (getattr(obj, "model_extra", None) or {}).get(name)


# -- OpenAI chat ------------------------------------------------------------------------------

class ChatAdapter:
    def __init__(self, client: openai.OpenAI) -> None:
        self.client = client

    def messages(self, request: Ask) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if request.system:
            out.append({"role": "system", "content": request.system})
        for m in request.messages:
            if m.role == "assistant":
                msg: dict[str, Any] = {"role": "assistant", "content": m.text or None}
                if m.calls:
                    msg["tool_calls"] = [
                        {"id": c.id, "type": "function",
                         "function": {"name": c.name, "arguments": json.dumps(c.args)}}
                        for c in m.calls
                    ]
                out.append(msg)
                continue
            out += [{"role": "tool", "tool_call_id": r.call_id, "content": r.text} for r in m.results]
            images = [{"type": "image_url", "image_url": {"url": DATA_URL}}] * (
                int(m.image) + sum(1 for r in m.results if r.image))
            if images:
                out.append({"role": "user", "content": [{"type": "text", "text": m.text}, *images]})
            elif m.text:
                out.append({"role": "user", "content": m.text})
        return out

    def kwargs(self, model: str, request: Ask) -> dict[str, Any]:
        kw: dict[str, Any] = {"model": model, "messages": self.messages(request)}
        if request.tools:
            kw["tools"] = [{"type": "function", "function": {"name": n, "description": f"{n} tool",
                                                             "parameters": s}} for n, s in TOOLS.items()]
        if request.max_tokens is not None:
            kw["max_tokens"] = request.max_tokens
        if request.thinking:
            kw["reasoning_effort"] = "high"
        return kw

    def ask(self, model: str, request: Ask) -> Answer:
        kw = self.kwargs(model, request)
        if not request.stream:
            r = self.client.chat.completions.create(**kw)
            msg = r.choices[0].message
            calls = [Call(c.id, c.function.name, json.loads(c.function.arguments))  # type: ignore[union-attr]
                     for c in msg.tool_calls or []]
            return Answer(msg.content or "", _extra(msg, "reasoning_content") or "", calls,
                          r.choices[0].finish_reason, _openai_usage(r.usage), r.model, r.id)
        answer = Answer()
        pending: dict[int, list[str]] = {}
        usage = {"include_usage": True}
        stream = self.client.chat.completions.create(**kw, stream=True, stream_options=usage)
        with stream:
            for chunk in stream:
                answer.model, answer.id = chunk.model, chunk.id
                if chunk.usage is not None:
                    answer.usage = _openai_usage(chunk.usage)
                for choice in chunk.choices:
                    delta = choice.delta
                    answer.text += delta.content or ""
                    answer.thinking += _extra(delta, "reasoning_content") or ""
                    for tc in delta.tool_calls or []:
                        slot = pending.setdefault(tc.index, ["", "", ""])
                        fn = tc.function
                        slot[0] = tc.id or slot[0]
                        slot[1] = (fn.name if fn and fn.name else "") or slot[1]
                        slot[2] += (fn.arguments if fn else "") or ""
                    answer.stop = choice.finish_reason or answer.stop
        slots = [pending[k] for k in sorted(pending)]
        answer.calls = [Call(i, n, json.loads(a or "{}")) for i, n, a in slots]
        return answer


def _openai_usage(usage: Any) -> dict[str, int | None]:
    if usage is None:
        return {}
    prompt = getattr(usage, "prompt_tokens_details", None)
    completion = getattr(usage, "completion_tokens_details", None)
    return {
        "input": usage.prompt_tokens,
        "output": usage.completion_tokens,
        "total": usage.total_tokens,
        "cached": (prompt.cached_tokens or 0) if prompt else 0,
        "reasoning": (completion.reasoning_tokens or 0) if completion else 0,
    }


class CompletionsAdapter:
    def __init__(self, client: openai.OpenAI) -> None:
        self.client = client

    def ask(self, model: str, request: Ask) -> Answer:
        prompt = request.messages[-1].text
        kw: dict[str, Any] = {"model": model, "prompt": prompt}
        if request.max_tokens is not None:
            kw["max_tokens"] = request.max_tokens
        if not request.stream:
            r = self.client.completions.create(**kw)
            return Answer(r.choices[0].text, "", [], r.choices[0].finish_reason, _openai_usage(r.usage),
                          r.model, r.id)
        answer = Answer()
        stream = self.client.completions.create(**kw, stream=True, stream_options={"include_usage": True})
        with stream:
            for chunk in stream:
                answer.model, answer.id = chunk.model, chunk.id
                if chunk.usage is not None:
                    answer.usage = _openai_usage(chunk.usage)
                for choice in chunk.choices:
                    answer.text += choice.text
                    answer.stop = choice.finish_reason or answer.stop
        return answer


# -- OpenAI responses -------------------------------------------------------------------------

class ResponsesAdapter:
    def __init__(self, client: openai.OpenAI) -> None:
        self.client = client

    def items(self, request: Ask) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for m in request.messages:
            if m.role == "assistant":
                if m.text:
                    out.append({"type": "message", "role": "assistant",
                                "content": [{"type": "output_text", "text": m.text}]})
                out += [{"type": "function_call", "call_id": c.id, "name": c.name,
                         "arguments": json.dumps(c.args)} for c in m.calls]
                continue
            for r in m.results:
                output: Any = r.text
                if r.image:
                    output = [{"type": "input_text", "text": r.text},
                              {"type": "input_image", "image_url": DATA_URL}]
                out.append({"type": "function_call_output", "call_id": r.call_id, "output": output})
            parts: list[dict[str, Any]] = [{"type": "input_text", "text": m.text}] if m.text else []
            if m.image:
                parts.append({"type": "input_image", "image_url": DATA_URL})
            if parts:
                out.append({"type": "message", "role": "user", "content": parts})
        return out

    def ask(self, model: str, request: Ask) -> Answer:
        kw: dict[str, Any] = {"model": model, "input": self.items(request)}
        if request.system:
            kw["instructions"] = request.system
        if request.tools:
            kw["tools"] = [{"type": "function", "name": n, "description": f"{n} tool", "parameters": s}
                           for n, s in TOOLS.items()]
        if request.max_tokens is not None:
            kw["max_output_tokens"] = request.max_tokens
        if request.thinking:
            kw["reasoning"] = {"effort": "high", "summary": "auto"}
        if not request.stream:
            return _responses_answer(self.client.responses.create(**kw))
        events: list[str] = []
        final: Any = None
        text = ""
        sequence = -1
        stream = self.client.responses.create(**kw, stream=True)
        with stream:
            for event in stream:
                events.append(event.type)
                assert event.sequence_number > sequence, "sequence_number must rise"
                sequence = event.sequence_number
                if event.type == "response.output_text.delta":
                    text += event.delta
                if event.type in ("response.completed", "response.incomplete", "response.failed"):
                    final = event.response
        assert final is not None, events
        answer = _responses_answer(final)
        assert answer.text == text
        answer.events = events
        return answer


def _responses_answer(r: Any) -> Answer:
    answer = Answer(model=r.model, id=r.id)
    for item in r.output:
        if item.type == "message":
            answer.text += "".join(p.text for p in item.content if p.type == "output_text")
        elif item.type == "reasoning":
            answer.thinking += "".join(s.text for s in item.summary)
        elif item.type == "function_call":
            answer.calls.append(Call(item.call_id, item.name, json.loads(item.arguments or "{}")))
    answer.stop = r.status
    if r.status == "incomplete" and r.incomplete_details is not None:
        answer.stop += f":{r.incomplete_details.reason}"
    u = r.usage
    if u is not None:
        answer.usage = {"input": u.input_tokens, "output": u.output_tokens, "total": u.total_tokens,
                        "cached": u.input_tokens_details.cached_tokens,
                        "reasoning": u.output_tokens_details.reasoning_tokens}
    return answer
