"""Wire formats: five client formats and three upstream kinds around one canonical form.

Hub and spokes (ARCHITECTURE.md Rule 1): every format module converts its JSON to and from
the canonical model of `canonical` (requests, responses) and `events` (stream events), so
N formats need 2N converters instead of N². Everything here is pure: functions over frozen
dataclasses and small incremental stream classes, no I/O and no shared state.

Per format (client side → canonical → upstream side and back):

- `openai_chat` (+ `openai_chat_request` for client bodies): client request decode,
  upstream request encode (provider `openai`), upstream response decode, client response
  encode; `openai_chat_stream` for streams in both directions.
- `anthropic_messages` / `anthropic_stream`: the same for Anthropic Messages.
- `gemini` (+ `gemini_request`) / `gemini_stream`: the same for Gemini generateContent
  (client streams as SSE or as a JSON array).
- `openai_responses` / `openai_responses_stream`, `openai_completions`: client formats only.

`registry` dispatches on a client format or a provider so callers need not know the
modules. Shared rules live in small modules: `history` (conversation hygiene, tool-call
pairing and id rewrites), `ids` (minted ids, tool names), `carrier` (the `gph1.` thinking
carrier), `repair` (same-format bodies holding carriers), `schema` (Gemini schema
cleaning), `thinking` (thinking configuration), `errors` (typed errors and error bodies),
`sse` (parser and frames), `tokens` (count estimate), `media`, `validate`, `jsonx`.
"""

from gephyr_core.wire.canonical import (
    ClientContext,
    ClientFormat,
    EncodeOptions,
    ErrorInfo,
    MediaPart,
    Message,
    OutputFormat,
    Params,
    Part,
    Provider,
    Request,
    Response,
    Signature,
    StopReason,
    TextPart,
    ThinkingConfig,
    ThinkingPart,
    ToolCallPart,
    ToolChoice,
    ToolOrigin,
    ToolResultPart,
    ToolSpec,
    Usage,
)
from gephyr_core.wire.errors import WireError, classify_upstream_error, render_error
from gephyr_core.wire.events import Event, ResponseBuilder, aggregate
from gephyr_core.wire.ids import UpstreamContext
from gephyr_core.wire.sse import SSEEvent, SSEParser
from gephyr_core.wire.tokens import estimate_tokens

__all__ = [
    "ClientContext",
    "ClientFormat",
    "EncodeOptions",
    "ErrorInfo",
    "Event",
    "MediaPart",
    "Message",
    "OutputFormat",
    "Params",
    "Part",
    "Provider",
    "Request",
    "Response",
    "ResponseBuilder",
    "SSEEvent",
    "SSEParser",
    "Signature",
    "StopReason",
    "TextPart",
    "ThinkingConfig",
    "ThinkingPart",
    "ToolCallPart",
    "ToolChoice",
    "ToolOrigin",
    "ToolResultPart",
    "ToolSpec",
    "UpstreamContext",
    "Usage",
    "WireError",
    "aggregate",
    "classify_upstream_error",
    "estimate_tokens",
    "render_error",
]
