"""One entry point per direction, dispatching on the client format or the provider."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from gephyr_core.wire import (
    anthropic_messages,
    gemini,
    openai_chat,
    openai_completions,
    openai_responses,
)
from gephyr_core.wire.anthropic_stream import AnthropicStreamDecoder, AnthropicStreamEncoder
from gephyr_core.wire.canonical import (
    DEFAULT_OPTIONS,
    ClientContext,
    ClientFormat,
    EncodeOptions,
    Provider,
    Request,
    Response,
)
from gephyr_core.wire.events import Event
from gephyr_core.wire.gemini_stream import GeminiStreamDecoder, GeminiStreamEncoder
from gephyr_core.wire.ids import UpstreamContext
from gephyr_core.wire.openai_chat_stream import OpenAIChatStreamDecoder, OpenAIChatStreamEncoder
from gephyr_core.wire.openai_completions import OpenAICompletionsStreamEncoder
from gephyr_core.wire.openai_responses_stream import OpenAIResponsesStreamEncoder


class StreamDecoder(Protocol):
    """Upstream SSE payloads in, canonical events out; `close()` at EOF."""

    def feed(self, data: str, event: str | None = None) -> list[Event]: ...

    def close(self) -> list[Event]: ...


class StreamEncoder(Protocol):
    """Canonical events in, client frames out."""

    @property
    def done(self) -> bool: ...

    def feed(self, event: Event) -> bytes: ...

    def keepalive(self) -> bytes: ...


def decode_client_request(
    fmt: ClientFormat,
    body: Mapping[str, Any],
    *,
    model: str | None = None,
    stream: bool = False,
    count_tokens: bool = False,
    completions_default_max_tokens: int = openai_completions.DEFAULT_MAX_TOKENS,
) -> Request:
    """A client body → canonical request; gemini takes `model` and `stream` from the route."""
    if fmt == "chat":
        return openai_chat.decode_request(body)
    if fmt == "completions":
        default = completions_default_max_tokens
        return openai_completions.decode_request(body, default_max_tokens=default)
    if fmt == "responses":
        return openai_responses.decode_request(body)
    if fmt == "anthropic":
        return anthropic_messages.decode_request(body, require_max_tokens=not count_tokens)
    return gemini.decode_request(body, model=model or "", stream=stream)


def encode_upstream_request(
    provider: Provider, request: Request, opts: EncodeOptions = DEFAULT_OPTIONS
) -> dict[str, Any]:
    """A canonical request (with the upstream model) → the provider's request body."""
    if provider == "openai":
        return openai_chat.encode_request(request, opts)
    if provider == "anthropic":
        return anthropic_messages.encode_request(request, opts)
    return gemini.encode_request(request, opts)


def decode_upstream_response(
    provider: Provider, body: Mapping[str, Any], ctx: UpstreamContext
) -> Response:
    if provider == "openai":
        return openai_chat.decode_response(body, ctx)
    if provider == "anthropic":
        return anthropic_messages.decode_response(body, ctx)
    return gemini.decode_response(body, ctx)


def encode_client_response(fmt: ClientFormat, response: Response, ctx: ClientContext) -> Any:
    """A canonical response → the client's non-stream body."""
    encoders = {
        "chat": openai_chat.encode_response,
        "completions": openai_completions.encode_response,
        "responses": openai_responses.encode_response,
        "anthropic": anthropic_messages.encode_response,
        "gemini": gemini.encode_response,
    }
    return encoders[fmt](response, ctx)


def upstream_stream_decoder(provider: Provider, ctx: UpstreamContext) -> StreamDecoder:
    if provider == "openai":
        return OpenAIChatStreamDecoder(ctx)
    if provider == "anthropic":
        return AnthropicStreamDecoder(ctx)
    return GeminiStreamDecoder(ctx)


def client_stream_encoder(
    fmt: ClientFormat, ctx: ClientContext, *, gemini_sse: bool = True
) -> StreamEncoder:
    """The client's stream encoder; gemini without `alt=sse` streams a JSON array."""
    if fmt == "chat":
        return OpenAIChatStreamEncoder(ctx)
    if fmt == "completions":
        return OpenAICompletionsStreamEncoder(ctx)
    if fmt == "responses":
        return OpenAIResponsesStreamEncoder(ctx)
    if fmt == "anthropic":
        return AnthropicStreamEncoder(ctx)
    return GeminiStreamEncoder(ctx, sse=gemini_sse)
