"""A real relay (uvicorn on a free loopback port) in front of the three provider emulators."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gephyr_core.admin import catalog, invoke
from gephyr_core.admin.context import AdminContext, open_context
from gephyr_core.server import create_app
from gephyr_core.server.serve import prepare
from tests.emulators import anthropic_api, gemini_api, openai_api
from tests.emulators.script import Emulator
from tests.emulators.server import run_app

#: a client model per upstream kind (routed by name inference)
MODEL = {"openai": "gpt-4o-mini", "anthropic": "claude-emu-4", "gemini": "gemini-2.5-flash"}
FAST_RETRY = {
    "routing": {"retry_server_error_step_ms": 1, "retry_overload_base_ms": 1, "retry_overload_cap_ms": 5}
}


@dataclass
class RelayServer:
    """A running relay and the emulators behind it."""

    url: str
    api_key: str
    ctx: AdminContext
    emulators: dict[str, Emulator]
    app: Any = None

    @property
    def relay(self) -> Any:
        """The running relay pipeline (runtime state: records, bindings, health)."""
        return self.app.app.state.relay

    def reset_runtime(self) -> None:
        """Forget rate-limit records, health, last use, bindings and learned account flags."""
        import time

        flags = getattr(self.relay, "account_flags", None)
        deadline = time.monotonic() + 5
        while flags is not None and flags._tasks and time.monotonic() < deadline:
            time.sleep(0.01)  # let flag writes of the previous test land before undoing them
        with self.ctx.store.transaction(change=True) as db:
            db.execute(
                "UPDATE accounts SET forbidden = 0, forbidden_reason = NULL, forbidden_at = NULL,"
                " validation_blocked = 0, validation_blocked_until = NULL, validation_blocked_reason = NULL"
            )
        self.ctx.records_changed()
        self.relay.state.reset()
        self.relay.bindings.clear()

    def add_account(self, provider: str, **fields: Any) -> dict[str, Any]:
        emu = self.emulators[provider]
        base = f"{emu.url}/v1" if provider == "openai" else emu.url
        key = {
            "openai": openai_api.API_KEY,
            "anthropic": anthropic_api.API_KEY,
            "gemini": gemini_api.API_KEY,
        }[provider]
        args = {"provider": provider, "api_key": key, "base_url": base, **fields}
        data = invoke(self.ctx, catalog()["accounts.add"], args).data
        self.ctx.records_changed()
        return dict(data)

    def configure(self, patch: dict[str, Any]) -> None:
        invoke(self.ctx, catalog()["config.save"], {"config": patch})
        self.ctx.config_changed()


@pytest.fixture
def relay_server(
    tmp_path: Path, openai_emulator: Emulator, anthropic_emulator: Emulator, gemini_emulator: Emulator
) -> Iterator[RelayServer]:
    """A relay with no accounts yet; tests add the accounts they need."""
    ctx = open_context(tmp_path / "relay-data", {})
    rt = prepare(ctx, {}, lambda line: None)
    emulators = {"openai": openai_emulator, "anthropic": anthropic_emulator, "gemini": gemini_emulator}
    server = RelayServer("", str(rt.settings.get("auth.api_key")), ctx, emulators)
    server.configure(FAST_RETRY)
    server.app = create_app(rt)
    with run_app(server.app, lifespan="on") as url:
        server.url = url
        yield server
    ctx.close()


@pytest.fixture
def relay_all(relay_server: RelayServer) -> RelayServer:
    """A relay with one account of each provider."""
    for provider in ("openai", "anthropic", "gemini"):
        relay_server.add_account(provider, label=provider)
    return relay_server


KEY_B = "sk-emu-openai-0002"


@pytest.fixture
def two(relay_server: RelayServer) -> RelayServer:
    """A relay with two openai accounts, `a` (the emulator's first key) and `b`."""
    relay_server.emulators["openai"].api_keys.add(KEY_B)
    relay_server.add_account("openai", label="a", models=["gpt-*"])
    relay_server.add_account("openai", label="b", models=["gpt-*"], api_key=KEY_B)
    return relay_server


def ask(relay: RelayServer, model: str = "gpt-4o", session: str | None = "conv-1") -> Any:
    """One chat request, with an x-session-id unless `session` is None."""
    import httpx

    headers = {"authorization": f"Bearer {relay.api_key}"}
    if session:
        headers["x-session-id"] = session
    body = {"model": model, "messages": [{"role": "user", "content": "hello there friend"}]}
    return httpx.post(relay.url + "/v1/chat/completions", json=body, headers=headers, timeout=30)
