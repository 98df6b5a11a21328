"""Random JSON to every public route decoder and every admin endpoint: never a 500, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from gephyr_core.admin import catalog
from gephyr_core.admin.context import open_context
from gephyr_core.server import create_app
from gephyr_core.server.serve import prepare
from gephyr_core.wire.errors import WireError
from gephyr_core.wire.registry import decode_client_request
from tests.relay.harness import MODEL, RelayServer

FIELDS = [
    "model",
    "messages",
    "role",
    "content",
    "type",
    "text",
    "tools",
    "tool_choice",
    "system",
    "contents",
    "parts",
    "input",
    "prompt",
    "max_tokens",
    "stream",
    "name",
    "arguments",
    "function",
    "tool_calls",
    "tool_use_id",
    "id",
    "image_url",
    "url",
    "source",
    "data",
    "functionCall",
    "functionResponse",
    "generationConfig",
    "thinking",
    "budget_tokens",
    "response_format",
    "json_schema",
    "schema",
    "stop",
    "temperature",
    "instructions",
    "previous_response_id",
    "inlineData",
    "mimeType",
    "systemInstruction",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
KEYS = st.sampled_from(FIELDS) | st.text(max_size=8)
JSON = st.recursive(
    SCALARS | st.sampled_from(["user", "assistant", "system", "tool", "text", "image", "function", "model"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)
BODY = st.dictionaries(KEYS, JSON, max_size=6)
FORMATS = ["chat", "completions", "responses", "anthropic", "gemini"]
QUICK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("fmt", FORMATS)
@QUICK
@given(body=BODY)
def test_decoders_raise_only_wire_errors(fmt: str, body: dict[str, Any]) -> None:
    try:
        decode_client_request(fmt, body, model="m")  # type: ignore[arg-type]
    except WireError:
        pass


ROUTES = [
    ("/v1/chat/completions", MODEL["anthropic"]),
    ("/v1/completions", MODEL["gemini"]),
    ("/v1/responses", MODEL["anthropic"]),
    ("/v1/messages", MODEL["openai"]),
    ("/v1/messages/count_tokens", MODEL["gemini"]),
    (f"/v1beta/models/{MODEL['openai']}:generateContent", None),
    (f"/v1beta/models/{MODEL['anthropic']}:streamGenerateContent?alt=sse", None),
    (f"/v1beta/models/{MODEL['openai']}:countTokens", None),
    ("/v1/models/detect", MODEL["openai"]),
]


def _clean(r: httpx.Response) -> None:
    assert r.status_code != 500, r.text[:500]
    assert "Traceback" not in r.text


@pytest.mark.parametrize(("path", "model"), ROUTES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODY)
def test_public_routes_never_crash(
    relay_all: RelayServer, path: str, model: str | None, body: dict[str, Any]
) -> None:
    if model is not None and "model" not in body:
        body = {**body, "model": model}  # cross-format: the request is decoded and translated
    with httpx.Client(base_url=relay_all.url, timeout=30) as client:
        headers = {"authorization": f"Bearer {relay_all.api_key}", "content-type": "application/json"}
        _clean(client.post(path, content=json.dumps(body), headers=headers))


@pytest.fixture(scope="module")
def admin_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """One server for all admin examples; upstream defaults point at a closed loopback port."""
    root = tmp_path_factory.mktemp("admin-props")
    mp = pytest.MonkeyPatch()
    mp.setenv("HOME", str(root / "home"))  # integrations write below HOME
    mp.setenv("BROWSER", "true")  # an OAuth start must not open anything
    ctx = open_context(root / "data", {})
    ctx.overrides = {"admin.enabled": True}
    closed = "http://127.0.0.1:9"
    ctx.config.update(
        lambda doc: [
            doc.setdefault("providers", {}).__setitem__(p, {"base_url": closed})
            for p in ("openai", "anthropic", "gemini")
        ]
    )
    rt = prepare(ctx, ctx.overrides, lambda line: None)
    with TestClient(create_app(rt, watch_interval=0.2), client=("127.0.0.1", 5000)) as client:
        yield client, {"x-gephyr-local-token": rt.local_token}
    mp.undo()


def _value(name: str) -> st.SearchStrategy[Any]:
    if name in ("verify", "revoke_remote"):
        return st.just(False)  # keep every call on loopback
    if "url" in name:
        return st.just("http://127.0.0.1:9/v1")
    return JSON


OPS = sorted(catalog().values(), key=lambda o: o.name)


@pytest.mark.parametrize("name", [o.name for o in OPS])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_admin_endpoints_never_crash(
    admin_client: tuple[TestClient, dict[str, str]], name: str, data: Any
) -> None:
    client, auth = admin_client
    op = catalog()[name]
    path = op.path
    for p in op.params:
        if p.source == "path":
            path = path.replace(
                "{" + p.name + "}", quote(data.draw(st.text(min_size=1, max_size=12)), safe="")
            )
    fields = {p.name: data.draw(_value(p.name)) for p in op.params if p.source in ("body", "query")}
    if op.method in ("GET", "DELETE"):
        query = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in fields.items()}
        r = client.request(op.method, path, params=query, headers=auth)
    else:
        body = data.draw(st.just(fields) | JSON) if fields else data.draw(JSON)
        r = client.request(
            op.method, path, content=json.dumps(body), headers={**auth, "content-type": "application/json"}
        )
    assert r.status_code != 500, (name, r.text[:500])
    assert "Traceback" not in r.text
    if r.status_code >= 400:
        assert isinstance(r.json()["error"]["code"], str)
