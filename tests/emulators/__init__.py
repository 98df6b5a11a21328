"""Local emulators of the upstream LLM providers, scriptable per test.

``openai_api``, ``anthropic_api`` and ``gemini_api`` each build a Starlette app around an
:class:`~tests.emulators.script.Emulator` (script queue + recorded requests);
``server.run_app`` serves one under uvicorn; ``fixtures`` holds the pytest fixtures.
"""
