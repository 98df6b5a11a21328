"""OpenAI legacy Completions (client format only) ⇄ canonical (§2.2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gephyr_core.wire.canonical import (
    ClientContext,
    Message,
    Params,
    Request,
    Response,
    TextPart,
    Usage,
)
from gephyr_core.wire.errors import unsupported
from gephyr_core.wire.events import Event, Finish, StreamError, TextDelta, UsageUpdate
from gephyr_core.wire.ids import mint_id
from gephyr_core.wire.openai_chat import STOP_TO, encode_usage
from gephyr_core.wire.openai_chat_stream import stream_error_payload
from gephyr_core.wire.sse import DONE, KEEPALIVE_COMMENT, data_frame
from gephyr_core.wire.validate import obj, opt_float, opt_int, opt_str, req_str, stop_list

DEFAULT_MAX_TOKENS = 16


def decode_request(
    body: Mapping[str, Any], *, default_max_tokens: int = DEFAULT_MAX_TOKENS
) -> Request:
    """A legacy Completions client body → canonical request (one user message, no system)."""
    model = req_str(body, "model")
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        if len(prompt) != 1:
            raise unsupported("only one prompt is supported", "prompt")
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise unsupported(
            "prompt: a string is required (token-id prompts are not supported)", "prompt"
        )
    if body.get("suffix") is not None:
        raise unsupported("suffix is not supported", "suffix")
    if body.get("echo") is True:
        raise unsupported("echo is not supported", "echo")
    for key in ("best_of", "n"):
        value = opt_int(body, key)
        if value is not None and value > 1:
            raise unsupported(f"{key} > 1 is not supported", key)
    if body.get("logprobs") is not None:
        raise unsupported("logprobs is not supported", "logprobs")
    max_tokens = opt_int(body, "max_tokens")
    options = obj(body.get("stream_options") or {}, "stream_options")
    params = Params(
        max_output_tokens=default_max_tokens if max_tokens is None else max_tokens,
        temperature=opt_float(body, "temperature"),
        top_p=opt_float(body, "top_p"),
        stop=stop_list(body.get("stop")),
        seed=opt_int(body, "seed"),
        presence_penalty=opt_float(body, "presence_penalty"),
        frequency_penalty=opt_float(body, "frequency_penalty"),
    )
    messages = (Message("user", (TextPart(prompt),)),) if prompt else ()
    return Request(
        model=model,
        messages=messages,
        params=params,
        stream=body.get("stream") is True,
        stream_usage=options.get("include_usage") is True,
        user=opt_str(body, "user"),
        client_format="completions",
    )


def encode_response(resp: Response, ctx: ClientContext) -> dict[str, Any]:
    """Canonical response → a Completions client's body; thinking and calls are dropped."""
    text = "".join(p.text for p in resp.parts if isinstance(p, TextPart))
    return {
        "id": mint_id("cmpl-", ctx.rng),
        "object": "text_completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": [
            {"text": text, "index": 0, "logprobs": None, "finish_reason": STOP_TO[resp.stop_reason]}
        ],
        "usage": encode_usage(resp.usage),
    }


class OpenAICompletionsStreamEncoder:
    """Canonical events → Completions SSE (text only), `[DONE]` after the finish."""

    def __init__(self, ctx: ClientContext) -> None:
        self._ctx = ctx
        self._id = mint_id("cmpl-", ctx.rng)
        self._usage = Usage()
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def keepalive(self) -> bytes:
        return b"" if self._done else KEEPALIVE_COMMENT

    def _chunk(self, text: str, finish: str | None) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "text_completion",
            "created": self._ctx.created,
            "model": self._ctx.model,
            "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}],
        }

    def feed(self, event: Event) -> bytes:
        if self._done:
            return b""
        match event:
            case TextDelta(text=text) if text:
                return data_frame(self._chunk(text, None))
            case UsageUpdate(usage=usage):
                self._usage = usage
            case Finish(stop_reason=reason):
                self._done = True
                out = data_frame(self._chunk("", STOP_TO[reason]))
                if self._ctx.request.stream_usage:
                    last = self._chunk("", None)
                    last |= {"choices": [], "usage": encode_usage(self._usage)}
                    out += data_frame(last)
                return out + DONE
            case StreamError(error=error):
                self._done = True
                return data_frame(stream_error_payload(error))
            case _:
                pass
        return b""
