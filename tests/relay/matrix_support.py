"""Shared pieces of the relay matrix tests: a module-wide relay, expectations, upstream views.

The matrix runs 5 client formats × 3 upstream kinds × stream/non-stream through one relay
per test module (the emulators are session-wide and reset before every test), so the
suite stays fast. Tests that need their own accounts use the harness's ``relay_server``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gephyr_core.admin.context import open_context
from gephyr_core.server import create_app
from gephyr_core.server.serve import prepare
from tests.emulators.script import Emulator, RecordedRequest
from tests.emulators.server import run_app
from tests.relay.harness import FAST_RETRY, RelayServer

FORMATS = ("chat", "completions", "responses", "anthropic", "gemini")
PROVIDERS = ("openai", "anthropic", "gemini")
#: the client format whose wire format equals each provider's (the fast path)
NATIVE = {"openai": "chat", "anthropic": "anthropic", "gemini": "gemini"}
#: client aliases mapped to an upstream model (checks the model name mapping end to end)
ALIAS = {"openai": "mx-openai", "anthropic": "mx-anthropic", "gemini": "mx-gemini"}
UPSTREAM_MODEL = {"openai": "gpt-4.1", "anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.5-pro"}

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PNG_B64 = base64.b64encode(PNG).decode()
DATA_URL = f"data:image/png;base64,{PNG_B64}"

TOOLS = {
    "get_weather": {
        "type": "object",
        "properties": {"city": {"type": "string", "description": "city name"}},
        "required": ["city"],
    },
    "get_time": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
}

STOP_END = {"chat": "stop", "completions": "stop", "responses": "completed", "anthropic": "end_turn",
            "gemini": "STOP"}
STOP_MAX = {"chat": "length", "completions": "length", "responses": "incomplete:max_output_tokens",
            "anthropic": "max_tokens", "gemini": "MAX_TOKENS"}
STOP_TOOL = {"chat": "tool_calls", "responses": "completed", "anthropic": "tool_use", "gemini": "STOP"}


def cells(formats: tuple[str, ...] = FORMATS) -> list[Any]:
    """(format, provider, stream) for every cell, with readable ids."""
    return [
        pytest.param(f, p, s, id=f"{f}-{p}-{'stream' if s else 'whole'}")
        for f in formats
        for p in PROVIDERS
        for s in (False, True)
    ]


def fast_path(fmt: str, provider: str) -> bool:
    return NATIVE[provider] == fmt


@pytest.fixture(scope="module")
def matrix_relay(
    tmp_path_factory: pytest.TempPathFactory,
    openai_emulator_session: Emulator,
    anthropic_emulator_session: Emulator,
    gemini_emulator_session: Emulator,
) -> Iterator[RelayServer]:
    """One relay per module with an account of each provider and the alias mapping."""
    root: Path = tmp_path_factory.mktemp("matrix") / "relay-data"
    ctx = open_context(root, {})
    rt = prepare(ctx, {}, lambda line: None)
    emulators = {
        "openai": openai_emulator_session,
        "anthropic": anthropic_emulator_session,
        "gemini": gemini_emulator_session,
    }
    server = RelayServer("", str(rt.settings.get("auth.api_key")), ctx, emulators)
    mapping = {ALIAS[p]: f"{p}:{UPSTREAM_MODEL[p]}" for p in PROVIDERS}
    server.configure({**FAST_RETRY, "routing": {**FAST_RETRY["routing"], "mapping": mapping}})
    for provider in PROVIDERS:
        server.add_account(provider, label=provider)
    server.app = create_app(rt)
    with run_app(server.app, lifespan="on") as url:
        server.url = url
        try:
            yield server
        finally:
            from tests.relay.matrix_clients import close_clients

            close_clients()
    ctx.close()


@pytest.fixture
def mx(matrix_relay: RelayServer) -> Iterator[RelayServer]:
    """The module relay with freshly reset emulators and runtime state."""
    matrix_relay.reset_runtime()
    for emulator in matrix_relay.emulators.values():
        emulator.reset()
    yield matrix_relay
    for emulator in matrix_relay.emulators.values():
        emulator.reset()


# -- the neutral conversation -----------------------------------------------------------------

@dataclass
class Call:
    id: str
    name: str
    args: dict[str, Any]


@dataclass
class Result:
    call_id: str
    name: str
    text: str
    image: bool = False


@dataclass
class Msg:
    role: str  # user | assistant
    text: str = ""
    image: bool = False
    calls: list[Call] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)


@dataclass
class Ask:
    messages: list[Msg]
    system: str | None = None
    tools: bool = False
    max_tokens: int | None = None
    thinking: bool = False
    stream: bool = False


@dataclass
class Answer:
    text: str = ""
    thinking: str = ""
    calls: list[Call] = field(default_factory=list)
    stop: str = ""
    usage: dict[str, int | None] = field(default_factory=dict)
    model: str = ""
    id: str = ""
    events: list[str] = field(default_factory=list)


# -- usage -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Canon:
    """Canonical usage: input includes cache, output includes reasoning."""

    input: int
    output: int
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0


def expected_usage(fmt: str, u: Canon) -> dict[str, int | None]:
    """The usage numbers a client of `fmt` must see (protocols.md §4.10)."""
    if fmt in ("chat", "completions", "responses"):
        return {"input": u.input, "output": u.output, "total": u.input + u.output,
                "cached": u.cache_read, "reasoning": u.reasoning}
    if fmt == "anthropic":
        return {"input": u.input - u.cache_read - u.cache_write, "output": u.output,
                "cache_read": u.cache_read, "cache_write": u.cache_write}
    return {"input": u.input, "output": u.output - u.reasoning, "total": u.input + u.output,
            "cached": u.cache_read or None, "reasoning": u.reasoning or None}


# -- what reached the emulator -----------------------------------------------------------------

@dataclass
class Upstream:
    """A provider request body reduced to what the matrix checks."""

    model: str
    system: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    results: list[tuple[str, str]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    images: int = 0
    result_images: int = 0
    max_tokens: int | None = None
    thinking: bool = False


def _texts(content: Any) -> list[str]:
    if isinstance(content, str):
        return [content]
    return [p["text"] for p in content or [] if isinstance(p, dict) and p.get("type") == "text"]


def upstream_view(provider: str, req: RecordedRequest) -> Upstream:
    body = req.body
    if provider == "openai":
        return _openai_view(body)
    if provider == "anthropic":
        return _anthropic_view(body)
    return _gemini_view(body, req.path)


def _openai_view(body: dict[str, Any]) -> Upstream:
    up = Upstream(body["model"], max_tokens=body.get("max_completion_tokens") or body.get("max_tokens"))
    up.thinking = bool(body.get("reasoning_effort"))
    up.tools = [t["function"]["name"] for t in body.get("tools") or []]
    for m in body["messages"]:
        up.roles.append(m["role"])
        if m["role"] in ("system", "developer"):
            up.system += _texts(m["content"])
        elif m["role"] == "tool":
            up.results.append((m["tool_call_id"], " ".join(_texts(m["content"]))))
        elif m["role"] == "assistant":
            for c in m.get("tool_calls") or []:
                up.calls.append((c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])))
            up.texts += _texts(m.get("content"))
        else:
            up.texts += _texts(m["content"])
            parts = m["content"] if isinstance(m["content"], list) else []
            up.images += sum(1 for p in parts if p.get("type") == "image_url")
    return up


def _anthropic_view(body: dict[str, Any]) -> Upstream:
    up = Upstream(body["model"], max_tokens=body.get("max_tokens"))
    up.thinking = (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")
    system = body.get("system")
    up.system = _texts(system) if system else []
    up.tools = [t["name"] for t in body.get("tools") or []]
    for m in body["messages"]:
        up.roles.append(m["role"])
        blocks = m["content"] if isinstance(m["content"], list) else [{"type": "text", "text": m["content"]}]
        for b in blocks:
            if b["type"] == "text":
                up.texts.append(b["text"])
            elif b["type"] == "image":
                up.images += 1
            elif b["type"] == "tool_use":
                up.calls.append((b["id"], b["name"], b["input"]))
            elif b["type"] == "tool_result":
                inner = b.get("content")
                up.results.append((b["tool_use_id"], " ".join(_texts(inner))))
                if isinstance(inner, list):
                    up.result_images += sum(1 for p in inner if p.get("type") == "image")
    return up


def _gemini_view(body: dict[str, Any], path: str) -> Upstream:
    model = path.rsplit("/", 1)[-1].split(":", 1)[0]
    config = body.get("generationConfig") or {}
    up = Upstream(model, max_tokens=config.get("maxOutputTokens"))
    thinking = config.get("thinkingConfig") or {}
    up.thinking = bool(thinking.get("includeThoughts", thinking.get("include_thoughts")))
    up.system = [p["text"] for p in (body.get("systemInstruction") or {}).get("parts", []) if "text" in p]
    up.tools = [d["name"] for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
    for content in body["contents"]:
        up.roles.append(content.get("role", "user"))
        has_response = any("functionResponse" in p for p in content["parts"])
        for p in content["parts"]:
            if "text" in p and not p.get("thought"):
                up.texts.append(p["text"])
            elif "inlineData" in p:
                if has_response:
                    up.result_images += 1
                else:
                    up.images += 1
            elif "functionCall" in p:
                fc = p["functionCall"]
                up.calls.append((fc.get("id", ""), fc["name"], fc.get("args") or {}))
            elif "functionResponse" in p:
                fr = p["functionResponse"]
                response = fr.get("response") or {}
                text = response.get("output", response.get("error", json.dumps(response)))
                up.results.append((fr.get("id", ""), str(text)))
    return up


def generations(emu: Emulator) -> list[RecordedRequest]:
    return emu.calls("generate")
