"""One neutral conversation, sent through the official SDK of each client format.

``Ask`` describes a request independently of the format; each adapter builds the SDK call,
runs it streamed or whole, and reduces what the SDK returned to an ``Answer`` in the
format's own vocabulary (native stop reasons, native usage numbers).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anthropic
import openai
from google import genai
from google.genai import types

from tests.relay.harness import RelayServer
from tests.relay.matrix_openai import ChatAdapter, CompletionsAdapter, ResponsesAdapter
from tests.relay.matrix_support import PNG, PNG_B64, TOOLS, Answer, Ask, Call, Msg, Result

__all__ = ["Answer", "Ask", "Call", "Msg", "Result", "ask", "client_for", "close_clients"]


#: SDK clients reused within a module (creating one costs tens of milliseconds)
_SDKS: dict[tuple[str, str, str | None], Any] = {}


def _sdk(family: str, relay: RelayServer, api_version: str | None) -> Any:
    if family == "anthropic":
        return anthropic.Anthropic(base_url=relay.url, api_key=relay.api_key, max_retries=0)
    if family == "gemini":
        options = types.HttpOptions(base_url=relay.url, retry_options=types.HttpRetryOptions(attempts=1))
        if api_version:
            options.api_version = api_version
        return genai.Client(api_key=relay.api_key, http_options=options)
    return openai.OpenAI(base_url=f"{relay.url}/v1", api_key=relay.api_key, max_retries=0)


def close_clients() -> None:
    """Close every cached SDK client (module teardown)."""
    for client in _SDKS.values():
        client.close()
    _SDKS.clear()


@contextmanager
def client_for(fmt: str, relay: RelayServer, api_version: str | None = None,
               cached: bool = True) -> Iterator[Any]:
    """The adapter for `fmt`; its SDK client is cached per relay, or closed on exit."""
    family = fmt if fmt in ("anthropic", "gemini") else "openai"
    key = (family, relay.url, api_version)
    sdk = _SDKS.get(key) if cached else None
    if sdk is None:
        sdk = _sdk(family, relay, api_version)
        if cached:
            _SDKS[key] = sdk
    adapters: dict[str, Any] = {"chat": ChatAdapter, "completions": CompletionsAdapter,
                                "responses": ResponsesAdapter, "anthropic": AnthropicAdapter,
                                "gemini": GeminiAdapter}
    try:
        yield adapters[fmt](sdk)
    finally:
        if not cached:
            sdk.close()


def ask(fmt: str, relay: RelayServer, model: str, request: Ask) -> Answer:
    with client_for(fmt, relay) as adapter:
        return adapter.ask(model, request)  # type: ignore[no-any-return]


# -- Anthropic ----------------------------------------------------------------------------------

class AnthropicAdapter:
    def __init__(self, client: anthropic.Anthropic) -> None:
        self.client = client

    @staticmethod
    def image() -> dict[str, Any]:
        return {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}

    def messages(self, request: Ask) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for m in request.messages:
            blocks: list[dict[str, Any]] = []
            for r in m.results:
                inner: list[dict[str, Any]] = [{"type": "text", "text": r.text}]
                if r.image:
                    inner.append(self.image())
                blocks.append({"type": "tool_result", "tool_use_id": r.call_id, "content": inner})
            if m.text:
                blocks.append({"type": "text", "text": m.text})
            if m.image:
                blocks.append(self.image())
            blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.args} for c in m.calls]
            out.append({"role": m.role, "content": blocks})
        return out

    def ask(self, model: str, request: Ask) -> Answer:
        kw: dict[str, Any] = {"model": model, "messages": self.messages(request),
                              "max_tokens": request.max_tokens or (2048 if request.thinking else 512)}
        if request.system:
            kw["system"] = request.system
        if request.tools:
            kw["tools"] = [{"name": n, "description": f"{n} tool", "input_schema": s}
                           for n, s in TOOLS.items()]
        if request.thinking:
            kw["thinking"] = {"type": "enabled", "budget_tokens": 1024}
        if not request.stream:
            return _anthropic_answer(self.client.messages.create(**kw), [])
        events: list[str] = []
        with self.client.messages.stream(**kw) as s:
            for event in s:
                events.append(event.type)
            final = s.get_final_message()
        return _anthropic_answer(final, events)


def _anthropic_answer(r: Any, events: list[str]) -> Answer:
    answer = Answer(model=r.model, id=r.id, stop=r.stop_reason or "", events=events)
    for block in r.content:
        if block.type == "text":
            answer.text += block.text
        elif block.type == "thinking":
            answer.thinking += block.thinking
        elif block.type == "tool_use":
            answer.calls.append(Call(block.id, block.name, dict(block.input)))
    u = r.usage
    answer.usage = {"input": u.input_tokens, "output": u.output_tokens,
                    "cache_read": u.cache_read_input_tokens or 0,
                    "cache_write": u.cache_creation_input_tokens or 0}
    return answer


# -- Gemini -------------------------------------------------------------------------------------

class GeminiAdapter:
    def __init__(self, client: genai.Client) -> None:
        self.client = client

    def contents(self, request: Ask) -> list[types.Content]:
        out: list[types.Content] = []
        for m in request.messages:
            parts: list[types.Part] = []
            for r in m.results:
                parts.append(types.Part(function_response=types.FunctionResponse(
                    id=r.call_id, name=r.name, response={"output": r.text})))
            for r in m.results:
                if r.image:
                    parts.append(types.Part(inline_data=types.Blob(mime_type="image/png", data=PNG)))
            if m.text:
                parts.append(types.Part(text=m.text))
            if m.image:
                parts.append(types.Part(inline_data=types.Blob(mime_type="image/png", data=PNG)))
            parts += [types.Part(function_call=types.FunctionCall(id=c.id, name=c.name, args=c.args))
                      for c in m.calls]
            out.append(types.Content(role="model" if m.role == "assistant" else "user", parts=parts))
        return out

    def config(self, request: Ask) -> types.GenerateContentConfig:
        config = types.GenerateContentConfig()
        if request.system:
            config.system_instruction = request.system
        if request.tools:
            declarations = [
                types.FunctionDeclaration(name=n, description=f"{n} tool", parameters_json_schema=s)
                for n, s in TOOLS.items()
            ]
            config.tools = [types.Tool(function_declarations=declarations)]
        if request.max_tokens is not None:
            config.max_output_tokens = request.max_tokens
        if request.thinking:
            config.thinking_config = types.ThinkingConfig(include_thoughts=True, thinking_budget=1024)
        return config

    def ask(self, model: str, request: Ask) -> Answer:
        kw: dict[str, Any] = {"model": model, "contents": self.contents(request),
                              "config": self.config(request)}
        if not request.stream:
            return _gemini_fold(Answer(), self.client.models.generate_content(**kw))
        answer = Answer()
        for chunk in self.client.models.generate_content_stream(**kw):
            answer.events.append("chunk")
            _gemini_fold(answer, chunk)
        return answer


def _gemini_fold(answer: Answer, r: Any) -> Answer:
    answer.model, answer.id = r.model_version or answer.model, r.response_id or answer.id
    for candidate in r.candidates or []:
        for part in (candidate.content.parts if candidate.content else None) or []:
            if part.thought and part.text:
                answer.thinking += part.text
            elif part.text:
                answer.text += part.text
            elif part.function_call:
                fc = part.function_call
                answer.calls.append(Call(fc.id or "", fc.name or "", dict(fc.args or {})))
        if candidate.finish_reason is not None:
            reason = candidate.finish_reason
            answer.stop = str(getattr(reason, "value", reason))
    u = r.usage_metadata
    if u is not None and u.total_token_count is not None:
        answer.usage = {"input": u.prompt_token_count, "output": u.candidates_token_count,
                        "total": u.total_token_count, "cached": u.cached_content_token_count,
                        "reasoning": u.thoughts_token_count}
    return answer
