"""Credential extraction and constant-time comparison shared by the public and admin gates."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from starlette.requests import Request


def presented_secret(request: Request) -> str | None:
    """The first of Authorization (Bearer stripped), x-api-key, x-goog-api-key, `key` query."""
    auth = request.headers.get("authorization")
    if auth is not None:
        return auth[7:].strip() if auth[:7].lower() == "bearer " else auth.strip()
    for name in ("x-api-key", "x-goog-api-key"):
        value = request.headers.get(name)
        if value is not None:
            return value.strip()
    return request.query_params.get("key")


def secret_equals(presented: str | None, expected: str | None) -> bool:
    """Constant-time comparison over SHA-256 digests (lengths leak nothing)."""
    if not presented or not expected:
        return False
    a = hashlib.sha256(presented.encode()).digest()
    b = hashlib.sha256(expected.encode()).digest()
    return hmac.compare_digest(a, b)


def is_loopback_peer(request: Request) -> bool:
    """True when the socket peer is a loopback address (forwarded headers ignored)."""
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
