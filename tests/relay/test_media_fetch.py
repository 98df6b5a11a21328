"""Image URLs toward Gemini accounts are fetched and inlined; private hosts are refused."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from tests.emulators.server import run_app
from tests.relay.harness import MODEL, RelayServer

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture
def image_url() -> Iterator[str]:
    async def image(request: object) -> Response:
        return Response(PNG, media_type="image/png")

    async def big(request: object) -> Response:
        return Response(b"x" * 5000, media_type="image/png")

    app = Starlette(routes=[Route("/cat.png", image), Route("/big.png", big)])
    with run_app(app) as url:
        yield url


def _ask(relay: RelayServer, url: str) -> httpx.Response:
    body = {
        "model": MODEL["gemini"],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": url}},
                ],
            }
        ],
    }
    return httpx.post(
        relay.url + "/v1/chat/completions",
        json=body,
        timeout=30,
        headers={"authorization": f"Bearer {relay.api_key}"},
    )


def test_url_is_inlined_for_gemini(relay_server: RelayServer, image_url: str) -> None:
    relay_server.add_account("gemini")
    relay_server.configure({"protocols": {"fetch_private_addresses": True}})
    r = _ask(relay_server, f"{image_url}/cat.png")
    assert r.status_code == 200, r.text
    parts = relay_server.emulators["gemini"].last_request.body["contents"][0]["parts"]
    inline = [p for p in parts if "inlineData" in p]
    assert inline == [{"inlineData": {"mimeType": "image/png", "data": base64.b64encode(PNG).decode()}}]


def test_private_hosts_and_limits_are_refused(relay_server: RelayServer, image_url: str) -> None:
    relay_server.add_account("gemini")
    r = _ask(relay_server, f"{image_url}/cat.png")
    assert r.status_code == 400 and "private or local address" in r.json()["error"]["message"]
    relay_server.configure({"protocols": {"fetch_private_addresses": True, "fetch_max_bytes": 1000}})
    r = _ask(relay_server, f"{image_url}/big.png")
    assert r.status_code == 400 and "larger than 1000 bytes" in r.json()["error"]["message"]
    r = _ask(relay_server, f"{image_url}/missing.png")
    assert r.status_code == 400 and "HTTP 404" in r.json()["error"]["message"]
    relay_server.configure({"protocols": {"fetch_image_urls": False}})
    r = _ask(relay_server, f"{image_url}/cat.png")
    assert r.status_code == 400 and "fetch_image_urls" in r.json()["error"]["message"]
    assert relay_server.emulators["gemini"].requests == []
