"""HTTP calls to the identity provider: code exchange, refresh, userinfo, JWKS, revocation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gephyr_core import __version__
from gephyr_core.errors import GephyrError, UpstreamError, UpstreamUnreachable
from gephyr_core.oauth.provider import ProviderConfig

if TYPE_CHECKING:
    from gephyr_core.pool.egress import Send

DEFAULT_TIMEOUT = 15.0


class TokenError(GephyrError):
    """The token endpoint refused a grant (`invalid_grant` flagged) or was unreachable."""

    code = "upstream_error"

    def __init__(self, message: str, *, invalid_grant: bool = False, network: bool = False) -> None:
        super().__init__(message, code="upstream_unreachable" if network else None)
        self.invalid_grant = invalid_grant
        self.network = network


def _request(method: str, url: str, timeout: float, send: Send | None = None, **kwargs: Any) -> Any:
    """One call; `send` carries an account's egress route (pool.md §3), else direct."""
    import httpx

    headers = {
        "user-agent": f"gephyr/{__version__}",
        "accept": "application/json",
        **kwargs.pop("headers", {}),
    }
    try:
        if send is not None:
            return send(method, url, timeout=timeout, headers=headers, **kwargs)
        with httpx.Client(timeout=timeout, trust_env=False) as client:
            return client.request(method, url, headers=headers, **kwargs)
    except httpx.HTTPError as exc:
        raise UpstreamUnreachable(f"cannot reach {url}: {type(exc).__name__}") from exc


def _error_text(resp: Any) -> str:
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        desc = body.get("error_description")
        return f"{body['error']}: {desc}" if desc else str(body["error"])
    return f"HTTP {resp.status_code}"


def _token_call(
    cfg: ProviderConfig, form: dict[str, str], timeout: float, send: Send | None = None
) -> dict[str, Any]:
    form = {**form, "client_id": cfg.client_id}
    if cfg.client_secret:
        form["client_secret"] = cfg.client_secret
    try:
        resp = _request("POST", cfg.token_endpoint, timeout, send, data=form)
    except UpstreamUnreachable as exc:
        raise TokenError(exc.message, network=True) from exc
    if resp.status_code >= 300:
        text = _error_text(resp)
        raise TokenError(text, invalid_grant="invalid_grant" in text)
    try:
        body = resp.json()
    except ValueError:
        body = None
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("access_token"), str)
        or not body["access_token"]
    ):
        raise TokenError("token endpoint returned no access_token")
    expires = body.get("expires_in", 3600)
    body["expires_in"] = (
        int(expires) if isinstance(expires, int | float | str) and str(expires).isdigit() else 3600
    )
    return body


def exchange_code(
    cfg: ProviderConfig,
    code: str,
    redirect_uri: str,
    verifier: str,
    timeout: float = DEFAULT_TIMEOUT,
    send: Send | None = None,
) -> dict[str, Any]:
    """`grant_type=authorization_code` → the token response."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
    }
    return _token_call(cfg, form, timeout, send)


def refresh(
    cfg: ProviderConfig, refresh_token: str, timeout: float = DEFAULT_TIMEOUT, send: Send | None = None
) -> dict[str, Any]:
    """`grant_type=refresh_token` → the token response (maybe with a rotated refresh token)."""
    return _token_call(cfg, {"grant_type": "refresh_token", "refresh_token": refresh_token}, timeout, send)


def userinfo(
    cfg: ProviderConfig, access_token: str, timeout: float = DEFAULT_TIMEOUT, send: Send | None = None
) -> dict[str, Any]:
    """The userinfo document for an access token."""
    resp = _request(
        "GET", cfg.userinfo_endpoint, timeout, send, headers={"authorization": f"Bearer {access_token}"}
    )
    if resp.status_code >= 300:
        raise UpstreamError(f"userinfo answered {_error_text(resp)}")
    try:
        body = resp.json()
    except ValueError as exc:
        raise UpstreamError("userinfo returned invalid JSON") from exc
    if not isinstance(body, dict):
        raise UpstreamError("userinfo returned no object")
    return body


def jwks(cfg: ProviderConfig, timeout: float = DEFAULT_TIMEOUT, send: Send | None = None) -> dict[str, Any]:
    """The provider's JSON Web Key Set."""
    resp = _request("GET", cfg.jwks_uri, timeout, send)
    if resp.status_code >= 300:
        raise UpstreamError(f"jwks answered HTTP {resp.status_code}")
    try:
        body = resp.json()
    except ValueError as exc:
        raise UpstreamError("jwks returned invalid JSON") from exc
    if not isinstance(body, dict) or not isinstance(body.get("keys"), list):
        raise UpstreamError("jwks has no keys")
    return body


def revoke(
    cfg: ProviderConfig, token: str, timeout: float = DEFAULT_TIMEOUT, send: Send | None = None
) -> None:
    """Revoke a token: 2xx or 400 (already invalid) count as revoked (oauth.md §9)."""
    if not cfg.revocation_endpoint:
        raise UpstreamError(f"provider {cfg.name} has no revocation_endpoint")
    resp = _request("POST", cfg.revocation_endpoint, timeout, send, data={"token": token})
    if resp.status_code < 300 or resp.status_code == 400:
        return
    raise UpstreamError(f"revocation failed: {_error_text(resp)}")
