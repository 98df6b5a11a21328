"""Identity verification (oauth.md §7): RS256 id_token against the JWKS, else userinfo; domains."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gephyr_core.errors import GephyrError
from gephyr_core.oauth import client
from gephyr_core.oauth.provider import ProviderConfig

if TYPE_CHECKING:
    from gephyr_core.pool.egress import Send

JWKS_TTL_SECONDS = 3600
JWKS_FORCED_GAP_SECONDS = 60


class IdentityFailed(GephyrError):
    """The identity could not be established or verified."""

    code = "oauth.user_info_failed"

    def __init__(self, message: str) -> None:
        super().__init__(message, status=502)


class DomainNotAllowed(GephyrError):
    code = "oauth.domain_not_allowed"

    def __init__(self, domain: str | None) -> None:
        super().__init__(f"domain {domain or 'none'} is not in oauth.allowed_domains", status=403)
        self.domain = domain


@dataclass(frozen=True)
class Identity:
    """A verified identity: stable subject, verified email, display name and the claims."""

    subject: str
    email: str
    name: str | None
    claims: dict[str, Any]


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class JwksCache:
    """Keys by kid, cached 1 h; an unknown kid forces one re-fetch at most once a minute."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched = 0.0
        self._forced = 0.0

    def key(self, cfg: ProviderConfig, kid: str, send: Send | None = None) -> dict[str, Any] | None:
        with self._lock:
            now = time.monotonic()
            if not self._keys or now - self._fetched > JWKS_TTL_SECONDS:
                self._load(cfg, now, send)
            elif kid not in self._keys and now - self._forced > JWKS_FORCED_GAP_SECONDS:
                self._forced = now
                self._load(cfg, now, send)
            return self._keys.get(kid)

    def _load(self, cfg: ProviderConfig, now: float, send: Send | None) -> None:
        keys = client.jwks(cfg, send=send)["keys"]
        self._keys = {str(k.get("kid", "")): k for k in keys if isinstance(k, dict)}
        self._fetched = now


def _verified(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in {"true", "1"})


def verify_id_token(
    cfg: ProviderConfig, token: str, cache: JwksCache, send: Send | None = None
) -> dict[str, Any]:
    """The claims of a valid RS256 id_token, or IdentityFailed."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        head_b64, body_b64, sig_b64 = token.split(".")
        header = json.loads(_b64(head_b64))
        claims = json.loads(_b64(body_b64))
        signature = _b64(sig_b64)
    except (ValueError, TypeError) as exc:
        raise IdentityFailed("id_token is not a JWT") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") != "RS256":
        raise IdentityFailed("id_token must be an RS256 JWT")
    jwk = cache.key(cfg, str(header.get("kid", "")), send)
    if jwk is None:
        raise IdentityFailed("id_token signed with an unknown key")
    try:
        numbers = rsa.RSAPublicNumbers(
            int.from_bytes(_b64(jwk["e"]), "big"), int.from_bytes(_b64(jwk["n"]), "big")
        )
        numbers.public_key().verify(
            signature, f"{head_b64}.{body_b64}".encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, KeyError, ValueError, TypeError) as exc:
        raise IdentityFailed("id_token signature does not verify") from exc
    _check_claims(cfg, claims)
    return claims


def _check_claims(cfg: ProviderConfig, claims: dict[str, Any]) -> None:
    if claims.get("iss") not in cfg.issuers:
        raise IdentityFailed(f"id_token issuer {claims.get('iss')!r} is not trusted")
    aud = claims.get("aud")
    if aud != cfg.client_id:
        raise IdentityFailed("id_token audience is not this client")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= time.time():
        raise IdentityFailed("id_token has expired")
    if not _verified(claims.get("email_verified")):
        raise IdentityFailed("email is not verified")
    if not claims.get("sub"):
        raise IdentityFailed("id_token has no subject")


def _from_userinfo(cfg: ProviderConfig, access_token: str, send: Send | None) -> dict[str, Any]:
    try:
        info = client.userinfo(cfg, access_token, send=send)
    except GephyrError as exc:
        raise IdentityFailed(exc.message) from exc
    subject = info.get("sub") or info.get("id")
    if not subject:
        raise IdentityFailed("userinfo has no subject")
    if not (_verified(info.get("email_verified")) or _verified(info.get("verified_email"))):
        raise IdentityFailed("email is not verified")
    return {**info, "sub": str(subject)}


def identify(
    cfg: ProviderConfig, tokens: dict[str, Any], cache: JwksCache, send: Send | None = None
) -> Identity:
    """Verify the identity behind a token response and apply the domain allowlist.

    `send` is the egress of calls made for no account (pool.md §3); None goes direct.
    """
    id_token = tokens.get("id_token")
    if isinstance(id_token, str) and id_token:
        try:
            claims = verify_id_token(cfg, id_token, cache, send)
        except IdentityFailed:
            raise
        except GephyrError as exc:
            raise IdentityFailed(exc.message) from exc
    else:
        claims = _from_userinfo(cfg, str(tokens["access_token"]), send)
    email = str(claims.get("email") or "").strip()
    if not email:
        raise IdentityFailed("identity has no email")
    check_domain(cfg, claims, email)
    name = claims.get("name")
    if not name:
        parts = [str(claims[k]) for k in ("given_name", "family_name") if claims.get(k)]
        name = " ".join(parts) or None
    return Identity(str(claims["sub"]), email, name, claims)


def check_domain(cfg: ProviderConfig, claims: dict[str, Any], email: str) -> None:
    """With a non-empty allowlist, the domain claim (or the email's domain) must be listed."""
    if not cfg.allowed_domains:
        return
    if cfg.domain_claim:
        raw = claims.get(cfg.domain_claim)
        domain = str(raw).strip().lower() if raw else None
    else:
        domain = email.rpartition("@")[2].lower() or None
    if domain is None or domain not in cfg.allowed_domains:
        raise DomainNotAllowed(domain)
