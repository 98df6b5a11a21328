"""Pytest fixtures: one emulator server per provider per session, reset for every test.

Import into a conftest (``from tests.emulators.fixtures import *`` or
``pytest_plugins = ["tests.emulators.fixtures"]``). ``openai_emulator``,
``anthropic_emulator`` and ``gemini_emulator`` yield an :class:`Emulator` whose ``url`` is
the server's base URL; script and recorded requests are cleared before and after each test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulators import anthropic_api, gemini_api, openai_api
from tests.emulators.script import Emulator
from tests.emulators.server import run_app


@pytest.fixture(scope="session")
def openai_emulator_session() -> Iterator[Emulator]:
    emulator = openai_api.new_emulator()
    with run_app(openai_api.create_app(emulator)) as url:
        emulator.url = url
        yield emulator


@pytest.fixture(scope="session")
def anthropic_emulator_session() -> Iterator[Emulator]:
    emulator = anthropic_api.new_emulator()
    with run_app(anthropic_api.create_app(emulator)) as url:
        emulator.url = url
        yield emulator


@pytest.fixture(scope="session")
def gemini_emulator_session() -> Iterator[Emulator]:
    emulator = gemini_api.new_emulator()
    with run_app(gemini_api.create_app(emulator)) as url:
        emulator.url = url
        yield emulator


def _fresh(emulator: Emulator) -> Iterator[Emulator]:
    emulator.reset()
    yield emulator
    emulator.reset()


@pytest.fixture
def openai_emulator(openai_emulator_session: Emulator) -> Iterator[Emulator]:
    """OpenAI Chat Completions emulator; base URL for clients is ``f"{url}/v1"``."""
    yield from _fresh(openai_emulator_session)


@pytest.fixture
def anthropic_emulator(anthropic_emulator_session: Emulator) -> Iterator[Emulator]:
    """Anthropic Messages emulator; base URL for clients is ``url`` (no ``/v1``)."""
    yield from _fresh(anthropic_emulator_session)


@pytest.fixture
def gemini_emulator(gemini_emulator_session: Emulator) -> Iterator[Emulator]:
    """Gemini emulator serving ``/v1beta`` and ``/v1``; base URL is ``url``."""
    yield from _fresh(gemini_emulator_session)


__all__ = [
    "anthropic_emulator",
    "anthropic_emulator_session",
    "gemini_emulator",
    "gemini_emulator_session",
    "openai_emulator",
    "openai_emulator_session",
]
