from __future__ import annotations

import anthropic
import openai

from tests.relay.harness import MODEL, RelayServer


def test_openai_sdk_through_each_upstream(relay_all: RelayServer) -> None:
    with openai.OpenAI(base_url=f"{relay_all.url}/v1", api_key=relay_all.api_key, max_retries=0) as client:
        _openai_each(client)


def _openai_each(client: openai.OpenAI) -> None:
    for provider, model in MODEL.items():
        r = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hello there"}])
        assert r.choices[0].message.content == "echo: hello there", provider
        stream = client.chat.completions.create(
            model=model, stream=True, messages=[{"role": "user", "content": "hi you"}]
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert text == "echo: hi you", provider


def test_anthropic_sdk_through_each_upstream(relay_all: RelayServer) -> None:
    with anthropic.Anthropic(base_url=relay_all.url, api_key=relay_all.api_key, max_retries=0) as client:
        _anthropic_each(client)


def _anthropic_each(client: anthropic.Anthropic) -> None:
    for provider, model in MODEL.items():
        r = client.messages.create(
            model=model, max_tokens=100, messages=[{"role": "user", "content": "hello"}]
        )
        assert r.content[0].text == "echo: hello", provider
        with client.messages.stream(
            model=model, max_tokens=100, messages=[{"role": "user", "content": "hey"}]
        ) as s:
            assert s.get_final_text() == "echo: hey", provider
