"""A local OAuth 2.0 identity provider for tests, served on a loopback port.

Endpoints: ``GET /authorize`` (redirects back with ``code`` or ``error=access_denied``),
``POST /token`` (authorization code with PKCE S256 check; refresh with rotation;
``invalid_grant`` for unknown, used or revoked grants), ``GET /userinfo`` (bearer access
token), ``GET /jwks`` (RS256 key for optional id_tokens) and ``POST /revoke``. Behaviour is
scripted through attributes of :class:`IdP`; every request is recorded. ``token_sinks`` /
``revoke_sinks`` let a test mirror issued access tokens into a provider emulator.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.emulators.server import run_app

CLIENT_ID = "gephyr-test-client.apps.example"
CLIENT_SECRET = "idp-client-secret-0001"
PROVIDER = "emu"


@dataclass
class User:
    """An account at the identity provider."""

    sub: str
    email: str
    name: str | None = None
    email_verified: bool = True
    hd: str | None = None
    given_name: str | None = None
    family_name: str | None = None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class IdP:
    """State of the emulated identity provider (thread-safe)."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.url = ""
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "emu-key-1"
        self.lock = threading.Lock()
        self.token_sinks: list[Callable[[str], None]] = []
        self.revoke_sinks: list[Callable[[str], None]] = []
        self.reset()

    def reset(self) -> None:
        """Default users and behaviour; forget every grant and recorded request."""
        with self.lock:
            self.users = {
                "ana@example.com": User("sub-ana-0001", "ana@example.com", "Ana Lima", hd="example.com"),
                "bob@other.org": User(
                    "sub-bob-0002", "bob@other.org", None, given_name="Bob", family_name="Ray"
                ),
            }
            self.consent = "ana@example.com"  # who signs in at /authorize; "deny" refuses
            self.issue_refresh_token = True
            self.rotate_refresh = True
            self.issue_id_token = False
            self.expires_in = 3600
            self.token_status: int | None = None  # answer /token with this status instead
            self.revoke_status: int | None = None
            self.codes: dict[str, dict[str, Any]] = {}
            self.refresh_tokens: dict[str, str] = {}  # token -> email
            self.access_tokens: dict[str, str] = {}  # token -> email
            self.revoked: list[str] = []
            self.requests: list[tuple[str, dict[str, str]]] = []
            self.token_sinks = []
            self.revoke_sinks = []

    # -- helpers for tests -------------------------------------------------------------------
    def grant(self, email: str = "ana@example.com") -> str:
        """A refresh token issued directly (as if linked elsewhere)."""
        token = "1//rt-" + secrets.token_urlsafe(12)
        with self.lock:
            self.refresh_tokens[token] = email
        return token

    def revoke_all(self) -> None:
        """Invalidate every refresh and access token (the user removed the app)."""
        with self.lock:
            dropped = list(self.access_tokens)
            self.refresh_tokens.clear()
            self.access_tokens.clear()
        for token in dropped:
            for sink in self.revoke_sinks:
                sink(token)

    def calls(self, path: str) -> list[dict[str, str]]:
        with self.lock:
            return [form for p, form in self.requests if p == path]

    def provider_config(self) -> dict[str, Any]:
        """`[oauth.providers.emu]` pointing at this server."""
        return {
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "revocation_endpoint": f"{self.url}/revoke",
            "jwks_uri": f"{self.url}/jwks",
            "issuers": [self.url],
            "scopes": ["openid", "email", "profile"],
            "extra_params": {"access_type": "offline", "prompt": "consent"},
            "domain_claim": "hd",
            "account_provider": "gemini",
        }

    def config_patch(self, **oauth: Any) -> dict[str, Any]:
        """A config.save patch selecting this provider with the test client."""
        return {
            "oauth": {
                "provider": PROVIDER,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "providers": {PROVIDER: self.provider_config()},
                **oauth,
            }
        }

    # -- token minting -----------------------------------------------------------------------
    def _access(self, email: str) -> str:
        token = "ya29.emu-" + secrets.token_urlsafe(16)
        self.access_tokens[token] = email
        return token

    def id_token(self, user: User, **override: Any) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": CLIENT_ID,
            "sub": user.sub,
            "email": user.email,
            "email_verified": user.email_verified,
            "name": user.name,
            "iat": now,
            "exp": now + 3600,
        }
        if user.hd:
            claims["hd"] = user.hd
        claims.update(override)
        header = {"alg": "RS256", "kid": self.kid, "typ": "JWT"}
        signing = _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        sig = self._key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing + "." + _b64url(sig)

    def jwks(self) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()

        def enc(n: int) -> str:
            return _b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))

        key = {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": enc(numbers.n),
            "e": enc(numbers.e),
        }
        return {"keys": [key]}

    def token_response(self, email: str, refresh: str | None) -> dict[str, Any]:
        access = self._access(email)
        body: dict[str, Any] = {
            "access_token": access,
            "expires_in": self.expires_in,
            "token_type": "Bearer",
            "scope": "openid email profile",
        }
        if refresh is not None:
            body["refresh_token"] = refresh
        if self.issue_id_token:
            body["id_token"] = self.id_token(self.users[email])
        return body


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form body (parsed here: python-multipart is not a dependency)."""
    body = (await request.body()).decode()
    return {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


async def authorize(request: Request) -> Response:
    idp: IdP = request.app.state.idp
    q = dict(request.query_params)
    with idp.lock:
        idp.requests.append(("/authorize", q))
    if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
        return _error(400, "invalid_request", "unknown client or response type")
    if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
        return _error(400, "invalid_request", "PKCE S256 required")
    redirect = q.get("redirect_uri", "")
    if not redirect.startswith(("http://localhost:", "http://127.0.0.1:", "http://[::1]:")):
        return _error(400, "redirect_uri_mismatch", redirect)
    if idp.consent == "deny":
        params = {"error": "access_denied", "state": q.get("state", "")}
    else:
        code = "4/emu-" + secrets.token_urlsafe(12)
        with idp.lock:
            idp.codes[code] = {
                "email": idp.consent,
                "redirect_uri": redirect,
                "challenge": q["code_challenge"],
            }
        params = {"code": code, "state": q.get("state", ""), "scope": q.get("scope", "")}
    return RedirectResponse(f"{redirect}?{urlencode(params)}", status_code=302)


async def token(request: Request) -> Response:
    idp: IdP = request.app.state.idp
    form = await _form(request)
    with idp.lock:
        idp.requests.append(("/token", form))
    if idp.token_status is not None:
        return _error(idp.token_status, "server_error", "scripted failure")
    if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
        return _error(401, "invalid_client", "The OAuth client was not found.")
    if form.get("grant_type") == "authorization_code":
        return _code_grant(idp, form)
    if form.get("grant_type") == "refresh_token":
        return _refresh_grant(idp, form)
    return _error(400, "unsupported_grant_type", str(form.get("grant_type")))


async def userinfo(request: Request) -> Response:
    idp: IdP = request.app.state.idp
    auth = request.headers.get("authorization", "")
    with idp.lock:
        idp.requests.append(("/userinfo", {}))
        email = idp.access_tokens.get(auth.removeprefix("Bearer ").strip())
    if email is None:
        return _error(401, "invalid_token", "Invalid Credentials")
    user = idp.users[email]
    body = {
        "sub": user.sub,
        "email": user.email,
        "email_verified": user.email_verified,
        "name": user.name,
        "given_name": user.given_name,
        "family_name": user.family_name,
    }
    if user.hd:
        body["hd"] = user.hd
    return JSONResponse({k: v for k, v in body.items() if v is not None})


async def jwks(request: Request) -> Response:
    idp: IdP = request.app.state.idp
    with idp.lock:
        idp.requests.append(("/jwks", {}))
    return JSONResponse(idp.jwks())


async def revoke(request: Request) -> Response:
    idp: IdP = request.app.state.idp
    form = await _form(request)
    with idp.lock:
        idp.requests.append(("/revoke", form))
        if idp.revoke_status is not None:
            return _error(idp.revoke_status, "server_error", "scripted failure")
        token = form.get("token", "")
        email = idp.refresh_tokens.pop(token, None)
        if email is None:
            return _error(400, "invalid_token", "Token expired or revoked")
        idp.revoked.append(token)
        dropped = [t for t, e in idp.access_tokens.items() if e == email]
        for t in dropped:
            del idp.access_tokens[t]
    for t in dropped:
        for sink in idp.revoke_sinks:
            sink(t)
    return Response(status_code=200)


def create_app(idp: IdP) -> Starlette:
    """The identity provider's routes."""
    app = Starlette(
        routes=[
            Route("/authorize", authorize, methods=["GET"]),
            Route("/token", token, methods=["POST"]),
            Route("/userinfo", userinfo, methods=["GET"]),
            Route("/jwks", jwks, methods=["GET"]),
            Route("/revoke", revoke, methods=["POST"]),
        ]
    )
    app.state.idp = idp
    return app


def _publish(idp: IdP, body: dict[str, Any]) -> JSONResponse:
    for sink in idp.token_sinks:
        sink(body["access_token"])
    return JSONResponse(body)


def _code_grant(idp: IdP, form: dict[str, str]) -> Response:
    with idp.lock:
        grant = idp.codes.pop(form.get("code", ""), None)
        if grant is None:
            return _error(400, "invalid_grant", "Malformed auth code.")
        if grant["redirect_uri"] != form.get("redirect_uri"):
            return _error(400, "redirect_uri_mismatch", "Bad Request")
        verifier = form.get("code_verifier", "")
        if _b64url(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
            return _error(400, "invalid_grant", "Invalid code verifier.")
        refresh = None
        if idp.issue_refresh_token:
            refresh = "1//rt-" + secrets.token_urlsafe(12)
            idp.refresh_tokens[refresh] = grant["email"]
        body = idp.token_response(grant["email"], refresh)
    return _publish(idp, body)


def _refresh_grant(idp: IdP, form: dict[str, str]) -> Response:
    with idp.lock:
        old = form.get("refresh_token", "")
        email = idp.refresh_tokens.get(old)
        if email is None:
            return _error(400, "invalid_grant", "Token has been expired or revoked.")
        new = None
        if idp.rotate_refresh:
            new = "1//rt-" + secrets.token_urlsafe(12)
            del idp.refresh_tokens[old]
            idp.refresh_tokens[new] = email
        body = idp.token_response(email, new)
    return _publish(idp, body)


@pytest.fixture(scope="session")
def oauth_idp_session() -> Iterator[IdP]:
    idp = IdP()
    with run_app(create_app(idp)) as url:
        idp.url = url
        yield idp


@pytest.fixture
def oauth_idp(oauth_idp_session: IdP) -> Iterator[IdP]:
    """The identity provider, reset before and after each test."""
    oauth_idp_session.reset()
    yield oauth_idp_session
    oauth_idp_session.reset()


@contextmanager
def serving(idp: IdP) -> Iterator[str]:
    """Serve an extra identity provider instance (for tests that need a private one)."""
    with run_app(create_app(idp)) as url:
        idp.url = url
        yield url


def browse(url: str) -> int:
    """Play the browser: follow the authorize redirect to the callback; the final status."""
    import httpx

    with httpx.Client(follow_redirects=True, timeout=10, trust_env=False) as client:
        return client.get(url).status_code


if __name__ == "__main__":  # a stand-in browser for `BROWSER="python -m tests.oauth_idp"`
    import sys

    sys.exit(0 if browse(sys.argv[1]) == 200 else 1)
