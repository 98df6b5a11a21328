"""Fetching http(s) media URLs for Gemini upstreams (protocols.md §1.4), with SSRF guards.

Private, loopback, link-local and reserved addresses are refused unless
`protocols.fetch_private_addresses` is on (tests); size and time are bounded per URL. The
fetch uses the attempt's client, so it leaves by the Gemini account's egress route (a bound
account's media never goes direct either).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

import httpx

from gephyr_core.config import Settings
from gephyr_core.relay.call import AttemptFailed
from gephyr_core.wire import ErrorInfo, MediaPart


def _refuse(message: str) -> AttemptFailed:
    return AttemptFailed(ErrorInfo("invalid_request", 400, message))


async def _check_host(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise _refuse(f"media URL {url!r} is not an absolute http(s) URL")
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise _refuse(f"media URL host {host!r} does not resolve") from exc
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if not ip.is_global:
            raise _refuse(f"media URL host {host!r} is a private or local address; not fetched")


async def fetch_media(
    client: httpx.AsyncClient, urls: Sequence[str], settings: Settings
) -> dict[str, MediaPart]:
    """Download each URL as an inline MediaPart; any problem is a 400 for the client."""
    if not urls:
        return {}
    if not settings.get("protocols.fetch_image_urls"):
        raise _refuse(
            "media URLs are not fetched for Gemini accounts (protocols.fetch_image_urls is off);"
            " send the image inline as base64"
        )
    limit = int(settings.get("protocols.fetch_max_bytes"))
    timeout = float(settings.get("protocols.fetch_timeout_seconds"))
    allow_private = bool(settings.get("protocols.fetch_private_addresses"))
    out: dict[str, MediaPart] = {}
    for url in dict.fromkeys(urls):
        await _check_host(url, allow_private)
        data = bytearray()
        try:
            async with asyncio.timeout(timeout), client.stream("GET", url, follow_redirects=False) as resp:
                if resp.status_code != 200:
                    raise _refuse(f"fetching media URL {url!r} answered HTTP {resp.status_code}")
                async for chunk in resp.aiter_bytes():
                    data += chunk
                    if len(data) > limit:
                        raise _refuse(f"media URL {url!r} is larger than {limit} bytes")
                mime = resp.headers.get("content-type", "application/octet-stream").split(";")[0].strip()
        except (httpx.HTTPError, TimeoutError) as exc:
            raise _refuse(f"cannot fetch media URL {url!r}: {type(exc).__name__}") from exc
        out[url] = MediaPart(mime, base64.b64encode(bytes(data)).decode(), None, None)
    return out
