"""Failure helpers for the relay matrix: run a call through an SDK and capture how it failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anthropic
import openai
from google.genai import errors as genai_errors

from tests.relay.harness import RelayServer
from tests.relay.matrix_clients import Ask, Msg, client_for

SDK_ERRORS = (openai.APIError, anthropic.APIError, genai_errors.APIError)


@dataclass
class Failure:
    """A typed SDK exception reduced to what the matrix checks."""

    exc: Exception
    status: int
    headers: dict[str, str]
    body: Any
    kind: str = ""  # openai error.code / anthropic error.type / gemini status
    text_before: str = ""
    events: list[str] = field(default_factory=list)


def as_failure(fmt: str, exc: Exception) -> Failure:
    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        return Failure(exc, exc.status_code, dict(exc.response.headers), body, str(body.get("code") or ""))
    if isinstance(exc, anthropic.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        kind = str((body.get("error") or {}).get("type") or "")
        return Failure(exc, exc.status_code, dict(exc.response.headers), body, kind)
    if isinstance(exc, genai_errors.APIError):
        response = getattr(exc, "response", None)
        headers = dict(response.headers) if response is not None and hasattr(response, "headers") else {}
        return Failure(exc, exc.code, headers, exc.details, str(exc.status or ""))
    raise AssertionError(f"{fmt}: unexpected exception {exc!r}")


def failing_call(fmt: str, relay: RelayServer, model: str, stream: bool) -> Failure:
    """Send one simple request that must fail before any answer; return the SDK's exception."""
    request = Ask([Msg("user", "hello")], stream=stream)
    with client_for(fmt, relay) as adapter:
        try:
            adapter.ask(model, request)
        except SDK_ERRORS as exc:
            return as_failure(fmt, exc)
    raise AssertionError(f"{fmt}: the call succeeded")


def interrupted_stream(fmt: str, relay: RelayServer, model: str) -> Failure:
    """Stream a request whose upstream breaks after the first bytes; capture the in-band error."""
    with client_for(fmt, relay) as adapter:
        if fmt == "responses":
            return _responses_interrupted(adapter.client, model)
        seen: list[str] = []
        try:
            if fmt in ("chat", "completions"):
                _openai_stream_text(adapter.client, fmt, model, seen)
            elif fmt == "anthropic":
                with adapter.client.messages.stream(
                    model=model, max_tokens=256, messages=[{"role": "user", "content": "go"}]
                ) as s:
                    for event in s:
                        seen.append(event.text if event.type == "text" else "")
            else:
                for chunk in adapter.client.models.generate_content_stream(model=model, contents="go"):
                    seen.append(chunk.text or "")
        except openai.APIError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            return Failure(exc, 0, {}, body, str(body.get("code")), "".join(seen))
        except anthropic.APIStatusError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            kind = str((body.get("error") or {}).get("type"))
            return Failure(exc, exc.status_code, {}, body, kind, "".join(seen))
        except genai_errors.APIError as exc:
            return Failure(exc, exc.code, {}, exc.details, str(exc.status), "".join(seen))
    raise AssertionError(f"{fmt}: the interrupted stream ended like a success")


def _openai_stream_text(client: openai.OpenAI, fmt: str, model: str, seen: list[str]) -> None:
    if fmt == "chat":
        stream: Any = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "go"}], stream=True)
        with stream:
            for chunk in stream:
                seen.extend(c.delta.content or "" for c in chunk.choices)
        return
    stream = client.completions.create(model=model, prompt="go", stream=True)
    with stream:
        for chunk in stream:
            seen.extend(c.text for c in chunk.choices)


def _responses_interrupted(client: openai.OpenAI, model: str) -> Failure:
    events: list[str] = []
    text = ""
    failed: Any = None
    error: Any = None
    stream = client.responses.create(model=model, input="go", stream=True)
    with stream:
        for event in stream:
            events.append(event.type)
            if event.type == "response.output_text.delta":
                text += event.delta
            elif event.type == "error":
                error = event
            elif event.type == "response.failed":
                failed = event.response
    assert error is not None and failed is not None, events
    assert failed.status == "failed" and failed.error is not None
    body = failed.error.model_dump()
    return Failure(RuntimeError(error.message), 0, {}, body, str(error.code), text, events)
