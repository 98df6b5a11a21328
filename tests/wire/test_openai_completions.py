"""OpenAI legacy Completions (client format) (§2.2)."""

from __future__ import annotations

from typing import Any

import pytest
from wire_helpers import CREATED, client_ctx, encode_stream

from gephyr_core.wire import openai_completions as ocm
from gephyr_core.wire.canonical import (
    ErrorInfo,
    Message,
    Params,
    Request,
    Response,
    TextPart,
    ThinkingPart,
    Usage,
)
from gephyr_core.wire.errors import WireError
from gephyr_core.wire.events import (
    Finish,
    Start,
    StreamError,
    TextDelta,
    ThinkingDelta,
    UsageUpdate,
)


def test_decode_request_golden() -> None:
    body = {
        "model": "m",
        "prompt": ["1,2,3,"],
        "temperature": 0,
        "stop": ["\n"],
        "user": "u",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert ocm.decode_request(body) == Request(
        model="m",
        messages=(Message("user", (TextPart("1,2,3,"),)),),
        params=Params(max_output_tokens=16, temperature=0.0, stop=("\n",)),
        stream=True,
        stream_usage=True,
        user="u",
        client_format="completions",
    )
    assert (
        ocm.decode_request(
            {"model": "m", "prompt": "x", "max_tokens": 5}, default_max_tokens=9
        ).params.max_output_tokens
        == 5
    )


@pytest.mark.parametrize(
    "patch",
    [
        {"prompt": ["a", "b"]},
        {"prompt": [1, 2]},
        {"suffix": "x"},
        {"echo": True},
        {"best_of": 2},
        {"logprobs": 1},
        {"n": 3},
        {"prompt": None},
    ],
)
def test_decode_errors(patch: dict[str, Any]) -> None:
    with pytest.raises(WireError) as info:
        ocm.decode_request({"model": "m", "prompt": "x"} | patch)
    assert info.value.info().status == 400


def test_encode_response_golden() -> None:
    req = Request(model="client", messages=())
    body = ocm.encode_response(
        Response(
            "x",
            "y",
            (ThinkingPart("no"), TextPart("4,5")),
            "max_tokens",
            None,
            Usage(3, 0, 0, 2, 0),
        ),
        client_ctx(req),
    )
    assert body["id"].startswith("cmpl-") and len(body["id"]) == 29
    assert body | {"id": "X"} == {
        "id": "X",
        "object": "text_completion",
        "created": CREATED,
        "model": "client",
        "choices": [{"text": "4,5", "index": 0, "logprobs": None, "finish_reason": "length"}],
        "usage": {
            "prompt_tokens": 3,
            "completion_tokens": 2,
            "total_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


def test_stream_exact_bytes() -> None:
    req = Request(model="c", messages=(), stream_usage=True)
    enc = ocm.OpenAICompletionsStreamEncoder(client_ctx(req))
    raw = encode_stream(
        enc,
        [
            Start("u", "m", "openai"),
            ThinkingDelta("hidden"),
            TextDelta("4"),
            UsageUpdate(Usage(1, 0, 0, 1, 0)),
            Finish("end_turn"),
        ],
    )
    head = (
        '{"id":"'
        + enc._id
        + '","object":"text_completion","created":'
        + str(CREATED)
        + ',"model":"c","choices":'
    )
    assert raw.decode() == (
        "data: " + head + '[{"text":"4","index":0,"logprobs":null,"finish_reason":null}]}\n\n'
        "data: " + head + '[{"text":"","index":0,"logprobs":null,"finish_reason":"stop"}]}\n\n'
        "data: " + head + '[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,'
        '"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}\n\n'
        "data: [DONE]\n\n"
    )


def test_stream_error() -> None:
    enc = ocm.OpenAICompletionsStreamEncoder(client_ctx(Request(model="c", messages=())))
    raw = encode_stream(
        enc, [TextDelta("a"), StreamError(ErrorInfo("timeout", 504, "slow")), Finish("end_turn")]
    )
    assert raw.endswith(b'"code":"stream_interrupted"}}\n\n') and b"[DONE]" not in raw
