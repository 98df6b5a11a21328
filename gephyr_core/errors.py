"""Typed errors raised by the core and rendered once at each edge (API, CLI, public routes)."""

from __future__ import annotations

from typing import Any

#: stable error code -> HTTP status (spec/README.md, "Errors")
STATUS_BY_CODE: dict[str, int] = {
    "bad_request": 400,
    "validation_failed": 400,
    "confirmation_required": 400,
    "illegal_path": 400,
    "unsupported_format": 400,
    "credential_invalid": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "switch_in_progress": 409,
    "payload_too_large": 413,
    "auth_locked_out": 429,
    "rate_limited": 429,
    "upstream_error": 502,
    "upstream_unreachable": 502,
    "service_disabled": 503,
    "no_account_available": 503,
    "not_running": 503,
    "key_unavailable": 500,
    "storage_error": 500,
    "config_error": 500,
    "internal_error": 500,
}


class GephyrError(Exception):
    """An error with a stable code, a human message and optional details."""

    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details
        self._status = status
        self.headers = headers or {}

    @property
    def status(self) -> int:
        """HTTP status for this error."""
        if self._status is not None:
            return self._status
        if self.code.startswith("oauth."):
            return 400
        return STATUS_BY_CODE.get(self.code, 500)

    def to_body(self) -> dict[str, Any]:
        """The admin API error body."""
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            err["details"] = self.details
        return {"error": err}


class BadRequest(GephyrError):
    code = "bad_request"


class ValidationFailed(GephyrError):
    code = "validation_failed"

    def __init__(self, problems: list[dict[str, Any]], message: str | None = None) -> None:
        text = message or "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        super().__init__(text, details=problems)
        self.problems = problems


class ConfirmationRequired(GephyrError):
    code = "confirmation_required"


class IllegalPath(GephyrError):
    code = "illegal_path"


class UnsupportedFormat(GephyrError):
    code = "unsupported_format"


class CredentialInvalid(GephyrError):
    code = "credential_invalid"


class Unauthorized(GephyrError):
    code = "unauthorized"


class Forbidden(GephyrError):
    code = "forbidden"


class NotFound(GephyrError):
    code = "not_found"


class Conflict(GephyrError):
    code = "conflict"


class UpstreamError(GephyrError):
    code = "upstream_error"


class UpstreamUnreachable(GephyrError):
    code = "upstream_unreachable"


class NotRunning(GephyrError):
    code = "not_running"

    def __init__(self, message: str = "no server running on this data dir") -> None:
        super().__init__(message)


class KeyUnavailable(GephyrError):
    code = "key_unavailable"


class StorageError(GephyrError):
    code = "storage_error"


class ConfigError(GephyrError):
    """config.toml cannot be parsed: message is `config.toml:<line>:<col>: <error>`."""

    code = "config_error"


class ServerUnreachable(GephyrError):
    """The CLI could not reach `--remote` (exit 6)."""

    code = "server_unreachable"


def error_from_body(status: int, body: Any) -> GephyrError:
    """Rebuild a typed error from an admin API error body (used by the remote client)."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        code = str(err.get("code") or "internal_error")
        message = str(err.get("message") or f"HTTP {status}")
        return GephyrError(message, code=code, details=err.get("details"), status=status)
    fallback = {401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(status, "internal_error")
    return GephyrError(f"server answered HTTP {status}", code=fallback, status=status)
